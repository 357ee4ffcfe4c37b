package io.peregrine.server.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

@Command(name = "inspect", mixinStandardHelpOptions = true, description = "Summarise and validate a checkpoint directory.")
public final class InspectCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("peregrine inspect: not available in this build yet");
        return 2;
    }
}
