package io.peregrine.server;

import io.peregrine.server.cli.BenchCommand;
import io.peregrine.server.cli.GenerateCommand;
import io.peregrine.server.cli.InitDemoCommand;
import io.peregrine.server.cli.InspectCommand;
import io.peregrine.server.cli.PlanCommand;
import io.peregrine.server.cli.ServeCommand;
import io.peregrine.server.cli.WorkerCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code ./peregrine} launcher. */
@Command(name = "peregrine", mixinStandardHelpOptions = true, version = "Peregrine 0.1.0",
        description = "OpenAI-compatible inference server for Kimi K2.5-class models.",
        subcommands = {ServeCommand.class, InspectCommand.class, PlanCommand.class, InitDemoCommand.class,
                GenerateCommand.class, BenchCommand.class, WorkerCommand.class, CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new Main()).execute(args));
    }
}
