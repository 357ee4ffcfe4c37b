package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.dist.Communicator;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.ShardWorker;
import io.peregrine.engine.model.ShardedModel;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.kernels.nccl.ContextStream;
import io.peregrine.kernels.nccl.CudaRanks;
import io.peregrine.kernels.nccl.NcclApi;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The launcher's CUDA ranks, two threads standing in for two processes of one node: each opens its own (fake) GPU
 * through {@link CudaRanks}, joins the {@code shm} host group, gets rank 0's NCCL id over it and builds its NCCL
 * communicator on its backend's stream; then rank 0 serves ({@link ShardedModel}, steps sent over the host group) and
 * rank 1 runs what it receives ({@link ShardWorker}), each rank's model collectives going to its own (fake) NCCL.
 */
class CudaRanksTest {
    static final int RANKS = 2;

    @TempDir
    Path dir;

    /** Per rank: NCCL calls into its fake driver's log; the id it was given and the stream it was bound to. */
    static final class RankNccl extends ShardedNcclStepTest.DriverLoggedNccl {
        byte[] initId;
        int initRank = -1;
        int initSize;

        RankNccl(FakeDriver driver) {
            super(driver);
        }

        @Override
        public int getUniqueId(MemorySegment id) {
            for (int i = 0; i < NcclApi.UNIQUE_ID_BYTES; i++) {
                id.set(ValueLayout.JAVA_BYTE, i, (byte) (31 * i + 5));
            }
            return SUCCESS;
        }

        @Override
        public int commInitRank(MemorySegment out, int n, MemorySegment id, int rank) {
            initId = id.toArray(ValueLayout.JAVA_BYTE);
            initRank = rank;
            initSize = n;
            return super.commInitRank(out, n, id, rank);
        }
    }

    /** What one rank did: the ordinal it opened, its NCCL, its stream, its steps (workers). */
    record RankRun(int ordinal, RankNccl nccl, MemorySegment stream, long steps) {}

    @Test
    void eachRankOpensItsGpuAndJoinsNcclThroughTheHostGroupWhichKeepsCarryingTheSteps() throws Exception {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        Path group = dir.resolve("group");
        List<CompletableFuture<RankRun>> ranks = new java.util.ArrayList<>();
        RankRun rank0;
        RankRun rank1;
        // one thread per rank (the common pool may have one thread on a small machine)
        try (var pool = Executors.newFixedThreadPool(RANKS)) {
            for (int r = 0; r < RANKS; r++) {
                int rank = r;
                ranks.add(CompletableFuture.supplyAsync(() -> runRank(golden.resolve("tiny-k25"), group, rank), pool));
            }
            rank0 = ranks.get(0).get(60, TimeUnit.SECONDS);
            rank1 = ranks.get(1).get(60, TimeUnit.SECONDS);
        }

        assertEquals(0, rank0.ordinal());
        assertEquals(1, rank1.ordinal(), "one GPU per rank");
        byte[] id = new byte[NcclApi.UNIQUE_ID_BYTES];
        for (int i = 0; i < id.length; i++) {
            id[i] = (byte) (31 * i + 5);
        }
        for (RankRun run : List.of(rank0, rank1)) {
            assertArrayEquals(id, run.nccl().initId, "rank 0's id, handed out over the host group");
            assertEquals(RANKS, run.nccl().initSize);
        }
        assertEquals(0, rank0.nccl().initRank);
        assertEquals(1, rank1.nccl().initRank);

        assertEquals(1, rank1.steps(), "the worker ran the step rank 0 sent over the host group");
        int reduces0 = rank0.nccl().driver.calls("ncclAllReduce").size();
        int reduces1 = rank1.nccl().driver.calls("ncclAllReduce").size();
        assertTrue(reduces0 > 0, "rank 0's model reduced through NCCL");
        assertEquals(reduces0, reduces1, "both ranks' collectives met in NCCL, call for call");
        for (RankRun run : List.of(rank0, rank1)) {
            for (FakeDriver.Call c : run.nccl().driver.calls("ncclAllReduce")) {
                assertEquals(run.stream(), c.args()[3], "on the rank's own backend stream");
            }
        }
    }

    private static RankRun runRank(Path tiny, Path group, int rank) {
        FakeDriver driver = new FakeDriver();
        RankNccl nccl = new RankNccl(driver);
        int[] opened = {-1};
        CudaRanks devices = new CudaRanks(nccl, ordinal -> {
            opened[0] = ordinal;
            return new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake:" + ordinal);
        }, RANKS);
        try (Checkpoint ck = Checkpoint.open(tiny);
             ShmCommunicator host = ShmCommunicator.open(group, rank, RANKS, 1L << 20, Duration.ofSeconds(60));
             Backend backend = devices.open(rank);
             Communicator collectives = devices.collectives(backend, host)) {
            MemorySegment stream = new ContextStream(((CudaBackend) backend).context()).handle();
            ShardingPlan plan = new ShardingPlan(ck.config(), RANKS, true);
            KimiTextModel shard = KimiTextModel.load(ck, backend, TextShard.of(plan, rank), collectives, p -> { });
            long steps = 0;
            if (rank == 0) {
                try (ShardedModel model = new ShardedModel(shard, host)) {
                    LatentCache cache = model.newCache(8, 16);
                    model.forward(List.of(new SequenceSlice(new int[] {1792, 100, 200, 300}, 0, new int[] {0}, true)),
                            cache);
                }
            } else {
                steps = ShardWorker.run(shard, host);
            }
            return new RankRun(opened[0], nccl, stream, steps);
        }
    }

    @Test
    void aDeviceOutsideTheVisibleOnesIsRefused() {
        CudaRanks devices = new CudaRanks(new RankNccl(new FakeDriver()), ordinal -> {
            throw new AssertionError("not opened");
        }, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> devices.open(2));
        assertEquals("device 2 is not among the 2 visible", e.getMessage());
        assertEquals(2, devices.visibleDevices());
    }
}
