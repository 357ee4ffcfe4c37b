package io.peregrine.server.cli;

import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.CheckpointInspection;
import io.peregrine.engine.config.ConfigException;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Parameters;

@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = {"Summarise and validate a checkpoint directory: architecture, total and active parameters, "
                + "bytes per dtype, KV cache size, and every tensor that is missing or mis-shaped.",
                "Works on a directory holding only config.json (then nothing is validated).",
                "Exit status: 0 usable, 1 validation problems, 2 unreadable config or files."})
public final class InspectCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "DIR", description = "checkpoint directory (config.json, safetensors shards)")
    Path dir;

    @Spec
    CommandSpec spec;

    private PrintWriter out() {
        return spec.commandLine().getOut();
    }

    private PrintWriter err() {
        return spec.commandLine().getErr();
    }

    @Override
    public Integer call() {
        try {
            CheckpointInspection report = CheckpointInspection.inspect(dir);
            out().print(report.render());
            out().flush();
            return report.isUsable() ? 0 : 1;
        } catch (ConfigException | CheckpointException e) {
            err().println("peregrine inspect: " + e.getMessage());
            return 2;
        }
    }
}
