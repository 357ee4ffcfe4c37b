package io.peregrine.server.wiring;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.ShardedModel;
import io.peregrine.engine.model.TextShard;
import io.peregrine.engine.shard.ShardingPlan;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Two nodes of two ranks each on loopback, as the LeaderWorkerSet runs them (several ranks per node): node 0's
 * {@link ShardGroup#launchLeader} starts its local rank 1 and waits for node 1's ranks 2 and 3, which
 * {@link NodeRanks} starts; the golden tiny checkpoint (4 heads, 8 experts: one head and two experts per rank) gives
 * rank 0 the prefill logits of one rank within the golden tolerance; closing the group ends node 1 with status 0.
 */
class MultiNodeLaunchTest {
    @Test
    void fourRanksOnTwoNodesComputeWhatOneRankDoes() throws Exception {
        Path tiny = Path.of(System.getProperty("peregrine.testdata", "../testdata")).resolve("golden")
                .resolve("tiny-k25").toAbsolutePath();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        List<String> flags = List.of("--threads", "1", "--enable-expert-parallel");
        Nodes node1 = new Nodes(2, 1, "127.0.0.1", port);
        CompletableFuture<Integer> node1Exit = CompletableFuture.supplyAsync(() -> NodeRanks.run(tiny, 4, node1, flags));
        int[] prompt = {1792, 100, 200, 300, 7, 11};
        try (Checkpoint ck = Checkpoint.open(tiny); CpuBackend backend = new CpuBackend(1)) {
            float[][] one = prefill(KimiTextModel.load(ck, backend), prompt);
            StringBuilder failure = new StringBuilder();
            try (ShardGroup group = ShardGroup.launchLeader(tiny, 4, new Nodes(2, 0, null, port), flags,
                    failure::append)) {
                assertEquals(1, group.workers().size(), "node 0 starts its rank 1 itself");
                KimiTextModel rank0 = KimiTextModel.load(ck, backend,
                        TextShard.of(new ShardingPlan(ck.config(), 4, true), 0), group.communicator(), p -> { });
                ShardedModel model = group.serve(rank0);
                float[][] sharded = prefill(model, prompt);
                for (int t = 0; t < one.length; t++) {
                    double maxDiff = 0;
                    for (int v = 0; v < one[t].length; v++) {
                        maxDiff = Math.max(maxDiff, Math.abs(one[t][v] - sharded[t][v]));
                    }
                    assertTrue(maxDiff <= 1e-3, "row " + t + ": max|Δlogit| " + maxDiff);
                }
                assertEquals("", failure.toString());
            }
        }
        assertEquals(0, node1Exit.get(30, TimeUnit.SECONDS), "node 1 ends with status 0 when rank 0 stops the group");
    }

    private static float[][] prefill(io.peregrine.engine.model.LanguageModel model, int[] prompt) {
        LatentCache cache = model.newCache(4, 16);
        return model.forward(List.of(new SequenceSlice(prompt, 0, new int[] {0}, true)), cache).getFirst();
    }
}
