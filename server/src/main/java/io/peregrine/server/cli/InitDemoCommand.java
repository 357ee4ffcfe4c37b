package io.peregrine.server.cli;

import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.checkpoint.demo.DemoPreset;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.io.PrintWriter;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "init-demo", mixinStandardHelpOptions = true,
        description = {"Write a deterministic random checkpoint in the exact Kimi-K2.5 layout (config, sharded "
                + "safetensors with INT4 routed experts, vision tower, the real tokenizer files and chat template).",
                "Does nothing when DIR already holds that preset and seed; replaces an older demo checkpoint; "
                        + "never overwrites anything else."})
public final class InitDemoCommand implements Callable<Integer> {
    @Parameters(index = "0", arity = "0..1", paramLabel = "DIR",
            description = "where to write it (default: $PEREGRINE_DEMO_DIR, else ~/.cache/peregrine/demo)")
    Path dir;

    @Option(names = "--preset", paramLabel = "NAME", defaultValue = "demo",
            description = "tiny (smallest), demo (serves on 2 cores), bench (~2.8 GB, for decode benchmarks); default ${DEFAULT-VALUE}")
    String preset;

    @Option(names = "--seed", paramLabel = "S", description = "random seed; default " + DemoCheckpoint.DEFAULT_SEED)
    long seed = DemoCheckpoint.DEFAULT_SEED;

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
        Path target = dir != null ? dir : DemoCheckpoint.defaultDir();
        DemoPreset p;
        try {
            p = DemoPreset.byName(preset);
        } catch (IllegalArgumentException e) {
            err().println("peregrine init-demo: " + e.getMessage());
            return 2;
        }
        try {
            if (DemoCheckpoint.isComplete(target.toAbsolutePath().normalize(), p, seed)) {
                out().println(target + ": already holds the '" + p.name() + "' demo checkpoint (seed " + seed + ")");
                return 0;
            }
            err().println("peregrine init-demo: writing the '" + p.name() + "' preset (" + p.description() + ") to " + target);
            long[] lastReport = {0};
            DemoCheckpoint.ensure(target, p.name(), seed, progress -> {
                long now = System.nanoTime();
                if (now - lastReport[0] > 2_000_000_000L || progress.tensorsDone() == progress.tensors()) {
                    lastReport[0] = now;
                    err().println("  " + progress);
                }
            });
            out().println(target + ": wrote the '" + p.name() + "' demo checkpoint (seed " + seed + "); "
                    + "see it with: ./peregrine inspect " + target);
            return 0;
        } catch (CheckpointException e) {
            err().println("peregrine init-demo: " + e.getMessage());
            return 2;
        }
    }
}
