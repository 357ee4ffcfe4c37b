package io.peregrine.engine.model;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.engine.testing.TestData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * A worker rank of {@link ShardedModelTest} in its own JVM: loads its shard of the tiny checkpoint, runs
 * {@link ShardWorker} until rank 0 says stop and writes the number of steps it ran.
 * Arguments: shm file, rank, size, slot bytes, result file (experts by EP).
 */
public final class ShardWorkerMain {
    private ShardWorkerMain() {}

    public static void main(String[] args) throws Exception {
        int rank = Integer.parseInt(args[1]);
        int size = Integer.parseInt(args[2]);
        try (Checkpoint ck = Checkpoint.open(TestData.tinyCheckpoint());
             CpuBackend backend = new CpuBackend(1);
             ShmCommunicator comm = ShmCommunicator.open(Path.of(args[0]), rank, size, Long.parseLong(args[3]),
                     Duration.ofSeconds(60))) {
            KimiTextModel model = KimiTextModel.load(ck, backend,
                    TextShard.of(new ShardingPlan(ck.config(), size, true), rank), comm, p -> { });
            long steps = ShardWorker.run(model, comm);
            Files.writeString(Path.of(args[4]), "steps=" + steps + "\n");
        }
    }
}
