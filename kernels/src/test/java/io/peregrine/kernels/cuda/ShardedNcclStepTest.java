package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.TokenCounts;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.kernels.nccl.ContextStream;
import io.peregrine.kernels.nccl.NcclApi;
import io.peregrine.kernels.nccl.NcclCommunicator;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Rank 0 of two (experts by EP) of the golden tiny checkpoint on {@link CudaBackend} over the recording fake device,
 * with {@link NcclCommunicator} over a fake NCCL: the sharded decode step hands NCCL the activations themselves —
 * device addresses, on the backend's stream, between the kernels that make and use them — and moves nothing through
 * the host for them (the step's downloads are the sampled ids and each MoE layer's router logits, as on one rank).
 */
class ShardedNcclStepTest {
    static final int SEQS = 4;

    /** NCCL calls, recorded into the fake driver's call list so their place among the launches shows. */
    static class DriverLoggedNccl implements NcclApi {
        final FakeDriver driver;

        DriverLoggedNccl(FakeDriver driver) {
            this.driver = driver;
        }

        private int log(String name, Object... args) {
            driver.calls.add(new FakeDriver.Call(name, null, null, args));
            return SUCCESS;
        }

        public int getVersion(MemorySegment v) { return SUCCESS; }
        public int getUniqueId(MemorySegment id) { return SUCCESS; }
        public int commInitRank(MemorySegment out, int n, MemorySegment id, int rank) {
            out.set(ValueLayout.ADDRESS, 0, MemorySegment.ofAddress(0xC0FFEE));
            return SUCCESS;
        }
        public int commDestroy(MemorySegment comm) { return SUCCESS; }
        public int commAbort(MemorySegment comm) { return SUCCESS; }
        public String errorString(int r) { return "fake " + r; }
        public int allReduce(MemorySegment s, MemorySegment r, long n, int t, int op, MemorySegment c, MemorySegment st) {
            return log("ncclAllReduce", s, r, n, st);
        }
        public int allGather(MemorySegment s, MemorySegment r, long n, int t, MemorySegment c, MemorySegment st) {
            return log("ncclAllGather", s, r, n, st);
        }
        public int reduceScatter(MemorySegment s, MemorySegment r, long n, int t, int op, MemorySegment c,
                                 MemorySegment st) { return log("ncclReduceScatter"); }
        public int broadcast(MemorySegment s, MemorySegment r, long n, int t, int root, MemorySegment c,
                             MemorySegment st) { return log("ncclBroadcast"); }
        public int send(MemorySegment b, long n, int t, int p, MemorySegment c, MemorySegment st) { return log("ncclSend"); }
        public int recv(MemorySegment b, long n, int t, int p, MemorySegment c, MemorySegment st) { return log("ncclRecv"); }
        public int groupStart() { return SUCCESS; }
        public int groupEnd() { return SUCCESS; }
    }

    @Test
    void theShardedStepRunsNcclOnTheDeviceActivationsOnTheBackendsStream() {
        Path golden = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden");
        FakeDriver driver = new FakeDriver();
        try (Arena arena = Arena.ofConfined();
             CudaBackend backend = new CudaBackend(driver.open("fake"), CudaBackend.Options.FP32, "fake");
             Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            CudaContext ctx = backend.context();
            ContextStream stream = new ContextStream(ctx);
            NcclCommunicator comm = NcclCommunicator.open(new DriverLoggedNccl(driver), 0, 2,
                    arena.allocate(NcclApi.UNIQUE_ID_BYTES), stream, arena.allocate(4));
            ShardingPlan plan = new ShardingPlan(ck.config(), 2, true);
            KimiTextModel model = KimiTextModel.load(ck, backend, TextShard.of(plan, 0), comm, p -> { });
            TextConfig cfg = model.config();
            LatentCache cache = model.newCache(64, 16);
            int[][] prompts = new int[SEQS][];
            TokenCounts[] counts = new TokenCounts[SEQS];
            List<SequenceSlice> prefill = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                prompts[s] = new int[] {1792, 100 + s, 200 + s, 300 + s, 7 + s};
                counts[s] = model.tokenCounts(prompts[s], prompts[s].length);
                prefill.add(new SequenceSlice(prompts[s], 0, new int[] {2 * s, 2 * s + 1}, false));
            }
            SamplingBatch batch = new SamplingBatch();
            SamplingRule greedy = new SamplingRule(0, 1, 0, 0, 0, 0, 1.1);
            for (int s = 0; s < SEQS; s++) {
                batch.add(s, greedy, counts[s], 0, null, -1);
            }
            model.step(prefill, cache).sample(batch);
            List<SequenceSlice> decode = new ArrayList<>();
            for (int s = 0; s < SEQS; s++) {
                decode.add(new SequenceSlice(new int[] {batch.token(s)}, prompts[s].length, new int[] {2 * s, 2 * s + 1},
                        false));
            }
            model.step(decode, cache).sample(batch);
            driver.reset();

            model.step(decode, cache).sample(batch);

            int layers = cfg.numHiddenLayers();
            List<FakeDriver.Call> reduces = driver.calls("ncclAllReduce");
            List<FakeDriver.Call> gathers = driver.calls("ncclAllGather");
            assertEquals(1 + 2 * layers, reduces.size(), "the embedding's, and each layer's o_proj and MLP/MoE");
            assertEquals(1, gathers.size(), "the logits' vocabulary bands");
            for (FakeDriver.Call c : reduces) {
                MemorySegment send = (MemorySegment) c.args()[0];
                assertTrue(send.isNative(), "a device address, not a host staging array");
                assertEquals(send, c.args()[1], "in place");
                assertEquals((long) SEQS * cfg.hiddenSize(), c.args()[2]);
                assertEquals(stream.handle(), c.args()[3], "on the backend's stream");
            }
            MemorySegment bandSend = (MemorySegment) gathers.getFirst().args()[0];
            assertTrue(bandSend.isNative());
            assertEquals((long) SEQS * ((cfg.vocabSize() + 1) / 2), gathers.getFirst().args()[2]);
            // stream order: kernels run between consecutive all-reduces (the layer's work), none is a host copy
            List<String> names = driver.calls.stream().map(FakeDriver.Call::name).toList();
            for (int i = 1; i < names.size(); i++) {
                if (names.get(i).equals("ncclAllReduce")) {
                    int prev = names.subList(0, i).lastIndexOf("ncclAllReduce");
                    if (prev >= 0) {
                        assertTrue(names.subList(prev, i).contains("launch"), "work between all-reduces " + prev
                                + " and " + i);
                    }
                }
            }
            long ids = 4L * 2 * SEQS;
            assertEquals(ids, driver.bytes("copyToHost"),
                    "downloads: the sampled ids and logprobs only (routing stays on the device) — no activation");
            assertEquals(0, driver.calls("alloc").size(), "a warm sharded step allocates nothing");
            System.out.printf("sharded decode step (rank 0 of 2, EP) on the fake device: %d NCCL all-reduces of %d "
                            + "floats and 1 all-gather on the backend's stream, %d B down in %d copies%n",
                    reduces.size(), SEQS * cfg.hiddenSize(), driver.bytes("copyToHost"),
                    driver.calls("copyToHost").size());
            comm.close();
        }
    }
}
