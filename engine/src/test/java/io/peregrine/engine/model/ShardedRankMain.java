package io.peregrine.engine.model;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.shard.ShardingPlan;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A worker rank of {@link ShardedForwardTest} in its own JVM: joins the {@code shm} group, runs {@link ShardedScript}
 * and writes the checkpoint bytes it read and its greedy ids to a file for the test to check.
 * Arguments: shm file, rank, size, expert parallel, slot bytes, steps, prompts ({@link ShardedScript#prompts}),
 * checkpoint directory, result file.
 */
public final class ShardedRankMain {
    private ShardedRankMain() {}

    public static void main(String[] args) throws Exception {
        Path file = Path.of(args[0]);
        int rank = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        boolean ep = Boolean.parseBoolean(args[3]);
        long slot = Long.parseLong(args[4]);
        int steps = Integer.parseInt(args[5]);
        try (Checkpoint ck = Checkpoint.open(Path.of(args[7]));
             ShmCommunicator comm = ShmCommunicator.open(file, rank, size, slot, Duration.ofSeconds(60))) {
            ShardedScript.Result r = ShardedScript.run(ck, new ShardingPlan(ck.config(), size, ep), comm, steps,
                    ShardedScript.prompts(args[6]));
            StringBuilder out = new StringBuilder("bytesRead=" + r.bytesRead() + "\n");
            for (ShardedScript.CaseRun c : r.cases()) {
                out.append(c.name()).append('=').append(java.util.Arrays.toString(c.greedy())).append('\n');
            }
            Files.writeString(Path.of(args[8]), out);
        }
    }
}
