package io.peregrine.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "init-demo", mixinStandardHelpOptions = true, description = "Write a deterministic random demo checkpoint in the Kimi-K2.5 layout.")
public final class InitDemoCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("peregrine init-demo: not available in this build yet");
        return 2;
    }
}
