package io.peregrine.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "generate", mixinStandardHelpOptions = true, description = "Generate tokens from a prompt on the CPU reference backend.")
public final class GenerateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("peregrine generate: not available in this build yet");
        return 2;
    }
}
