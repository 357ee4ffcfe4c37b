package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.shard.ShardingPlan;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs {@link ShardedScript} on a group of real processes over {@code shm}: this JVM is rank 0, ranks 1.. are child
 * JVMs on the test class path ({@link ShardedRankMain}). A child's stderr is attached to a failure.
 */
final class ShardGroup {
    static final long SLOT = 1 << 16;

    /** Rank 0's result, and each worker's result file lines (bytes read, greedy ids per prompt). */
    record Outcome(ShardedScript.Result rank0, List<List<String>> workers) {}

    private ShardGroup() {}

    static Outcome run(Path work, Path checkpointDir, Checkpoint ck, ShardingPlan plan, String prompts, int steps)
            throws Exception {
        int ranks = plan.ranks();
        Path file = work.resolve("group");
        List<Process> children = new ArrayList<>();
        try {
            for (int r = 1; r < ranks; r++) {
                children.add(child(work, file, r, plan, prompts, steps, checkpointDir));
            }
            ShardedScript.Result mine;
            try (ShmCommunicator comm = ShmCommunicator.open(file, 0, ranks, SLOT, Duration.ofSeconds(60))) {
                mine = ShardedScript.run(ck, plan, comm, steps, ShardedScript.prompts(prompts));
            } catch (RuntimeException e) {
                for (int r = 1; r < ranks; r++) {
                    children.get(r - 1).waitFor(10, TimeUnit.SECONDS);
                    e.addSuppressed(new AssertionError("rank " + r + ": " + Files.readString(errors(work, r))));
                }
                throw e;
            }
            List<List<String>> workers = new ArrayList<>();
            for (int r = 1; r < ranks; r++) {
                Process p = children.get(r - 1);
                assertTrue(p.waitFor(60, TimeUnit.SECONDS), "worker finished");
                assertEquals(0, p.exitValue(), Files.readString(errors(work, r)));
                workers.add(Files.readAllLines(work.resolve("rank" + r)));
            }
            return new Outcome(mine, workers);
        } finally {
            children.forEach(Process::destroyForcibly);
        }
    }

    private static Process child(Path work, Path file, int rank, ShardingPlan plan, String prompts, int steps,
                                 Path checkpointDir) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        return new ProcessBuilder(java, "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-Xmx256m", "-cp", System.getProperty("java.class.path"),
                ShardedRankMain.class.getName(), file.toString(), String.valueOf(rank), String.valueOf(plan.ranks()),
                String.valueOf(plan.expertParallel()), String.valueOf(SLOT), String.valueOf(steps), prompts,
                checkpointDir.toString(), work.resolve("rank" + rank).toString())
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(errors(work, rank).toFile()).start();
    }

    private static Path errors(Path work, int rank) {
        return work.resolve("rank" + rank + ".err");
    }
}
