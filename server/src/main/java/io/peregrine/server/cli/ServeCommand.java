package io.peregrine.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "serve", mixinStandardHelpOptions = true, description = "Serve a checkpoint over an OpenAI-compatible HTTP API.")
public final class ServeCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("peregrine serve: not available in this build yet");
        return 2;
    }
}
