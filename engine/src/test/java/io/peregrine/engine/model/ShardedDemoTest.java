package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.dist.SingleRank;
import io.peregrine.engine.shard.ShardingPlan;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/**
 * The demo checkpoint (the real 163,840-entry vocabulary, 128-wide INT4 experts) at 2 and 4 ranks, routed experts by
 * expert parallelism (whole experts per rank) and by tensor parallelism, the path the tiny golden model refuses: every
 * expert's {@code gate_proj}/{@code up_proj}
 * cut by rows and its INT4 {@code down_proj} by input columns ({@code weight_packed} and {@code weight_scale} on whole
 * groups), beside the heads, the MLPs and the vocabulary. Logits within the golden tolerance of one rank's and the
 * same greedy ids, over real processes.
 */
class ShardedDemoTest {
    private static final int STEPS = 3;

    @TempDir
    static Path shared;

    private static Path demo;
    private static Checkpoint ck;

    @BeforeAll
    static void write() {
        demo = DemoCheckpoint.ensure(shared.resolve("demo"), "demo", DemoCheckpoint.DEFAULT_SEED, p -> { });
        ck = Checkpoint.open(demo);
    }

    @AfterAll
    static void close() {
        ck.close();
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "{0} ranks, experts by EP: {1}")
    @org.junit.jupiter.params.provider.CsvSource({"2, false", "4, false", "2, true", "4, true"})
    void shardedRanksMatchOneRank(int ranks, boolean expertParallel, @TempDir Path work) throws Exception {
        String prompts = "spread:" + ck.config().text().vocabSize();
        ShardedScript.Result one = ShardedScript.run(ck, new ShardingPlan(ck.config(), 1, false), new SingleRank(), STEPS,
                ShardedScript.prompts(prompts));
        ShardingPlan plan = new ShardingPlan(ck.config(), ranks, expertParallel);
        ShardGroup.Outcome outcome = ShardGroup.run(work, demo, ck, plan, prompts, STEPS);
        List<ShardedScript.CaseRun> sharded = outcome.rank0().cases();
        assertEquals(one.cases().size(), sharded.size());
        for (int c = 0; c < sharded.size(); c++) {
            ShardedScript.CaseRun a = one.cases().get(c);
            ShardedScript.CaseRun b = sharded.get(c);
            for (int t = 0; t < a.prefill().length; t++) {
                Logits.assertClose(a.prefill()[t], b.prefill()[t], a.name() + " prefill row " + t);
            }
            for (int s = 0; s < STEPS; s++) {
                Logits.assertClose(a.steps()[s], b.steps()[s], a.name() + " greedy step " + s);
            }
            assertArrayEquals(a.greedy(), b.greedy(), a.name() + " greedy ids");
            assertTrue(outcome.workers().getFirst().contains(b.name() + "=" + Arrays.toString(b.greedy())));
        }
        long rank0 = outcome.rank0().bytesRead();
        long rank1 = Long.parseLong(outcome.workers().getFirst().getFirst().substring("bytesRead=".length()));
        assertTrue(rank0 < one.bytesRead() && rank1 < one.bytesRead(), rank0 + ", " + rank1 + " of " + one.bytesRead());
        System.out.printf("demo, %d ranks (%s experts): checkpoint bytes read by ranks 0 and 1 [%d, %d] of %d for one "
                + "rank%n", ranks, expertParallel ? "EP" : "TP", rank0, rank1, one.bytesRead());
    }
}
