package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.dist.ShmCommunicator;
import io.peregrine.engine.dist.SingleRank;
import io.peregrine.engine.shard.ShardingException;
import io.peregrine.engine.shard.ShardingPlan;
import io.peregrine.engine.shard.TensorRole;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The sharded forward equals the unsharded one: the tiny golden checkpoint over the {@code shm} communicator with
 * real processes (this JVM is rank 0, the others are child JVMs on the test class path), attention heads, dense MLP,
 * shared expert and vocabulary split over the ranks and the routed experts by expert parallelism. Every prefill row
 * and every greedy step's logits within the golden README's tolerance of one rank's, and the greedy ids identical on
 * every rank; each rank reads only its part of the checkpoint.
 */
class ShardedForwardTest {
    private static final int STEPS = 4;

    private static Checkpoint ck;
    private static ShardedScript.Result single;

    @TempDir
    Path dir;

    @BeforeAll
    static void runOneRank() {
        ck = Checkpoint.open(TestData.tinyCheckpoint());
        single = ShardedScript.run(ck, new ShardingPlan(ck.config(), 1, false), new SingleRank(), STEPS,
                ShardedScript.prompts("golden:" + GoldenCases.all().size()));
    }

    @AfterAll
    static void close() {
        ck.close();
    }

    @ParameterizedTest(name = "{0} ranks, experts by EP")
    @ValueSource(ints = {2, 4})
    void shardedRanksMatchOneRank(int ranks) throws Exception {
        ShardingPlan plan = new ShardingPlan(ck.config(), ranks, true);
        ShardGroup.Outcome outcome = ShardGroup.run(dir, TestData.tinyCheckpoint(), ck, plan, prompts(ranks), STEPS);
        ShardedScript.Result mine = outcome.rank0();

        double maxDiff = 0;
        assertEquals(ranks <= 2 ? GoldenCases.all().size() : 2, mine.cases().size());
        for (ShardedScript.CaseRun sharded : mine.cases()) {
            ShardedScript.CaseRun one = single.cases().stream().filter(c -> c.name().equals(sharded.name()))
                    .findFirst().orElseThrow();
            GoldenCases golden = GoldenCases.named(one.name());
            float[][] goldenPrefill = golden.prefillLogits();
            for (int t = 0; t < one.prefill().length; t++) {
                Logits.assertClose(one.prefill()[t], sharded.prefill()[t], one.name() + " prefill row " + t);
                maxDiff = Math.max(maxDiff, maxAbsDiff(one.prefill()[t], sharded.prefill()[t]));
                Logits.assertClose(goldenPrefill[t], sharded.prefill()[t], one.name() + " prefill row " + t + " vs golden");
            }
            for (int s = 0; s < STEPS; s++) {
                Logits.assertClose(one.steps()[s], sharded.steps()[s], one.name() + " greedy step " + s);
                maxDiff = Math.max(maxDiff, maxAbsDiff(one.steps()[s], sharded.steps()[s]));
            }
            assertArrayEquals(one.greedy(), sharded.greedy(), one.name() + " greedy ids");
            assertArrayEquals(Arrays.copyOf(golden.greedy(), STEPS), sharded.greedy(), one.name() + " golden ids");
        }

        long whole = textBytes(new ShardingPlan(ck.config(), 1, false), 0);
        assertEquals(whole, single.bytesRead(), "one rank reads every text tensor once");
        assertEquals(textBytes(plan, 0), mine.bytesRead(), "rank 0 reads its parts only");
        for (int r = 1; r < ranks; r++) {
            List<String> lines = outcome.workers().get(r - 1);
            assertEquals("bytesRead=" + textBytes(plan, r), lines.getFirst(), "rank " + r + " reads its parts only");
            for (ShardedScript.CaseRun c : mine.cases()) {
                assertTrue(lines.contains(c.name() + "=" + Arrays.toString(c.greedy())), "rank " + r + " " + c.name());
            }
            assertTrue(textBytes(plan, r) < whole);
        }
        System.out.printf("%d ranks (EP): max|Δlogit| vs one rank %.3g; checkpoint bytes read per rank %s of %d for"
                + " one rank%n", ranks, maxDiff,
                Arrays.toString(java.util.stream.IntStream.range(0, ranks).mapToLong(r -> textBytes(plan, r)).toArray()),
                whole);
    }

    /** Splitting the tiny model's 32-wide experts by tensor parallelism would cut its INT4 groups: refused. */
    @Test
    void tensorParallelExpertsAreRefusedForTheTinyModel() {
        ShardingException e = assertThrows(ShardingException.class, () -> new ShardingPlan(ck.config(), 2, false));
        assertTrue(e.getMessage().contains("down_proj: 16 input columns per rank over 2 ranks is not a multiple of the"
                + " quantization group of 32 (or use --enable-expert-parallel: whole experts per rank)"), e.getMessage());
        assertThrows(ShardingException.class, () -> new ShardingPlan(ck.config(), 3, true));
    }

    /**
     * Every golden case at 2 ranks; at 4, the two longest prompts (four JVMs on CI's two cores spend most of their
     * time waiting for each other to be scheduled).
     */
    private static String prompts(int ranks) {
        return "golden:" + (ranks <= 2 ? GoldenCases.all().size() : 2);
    }

    private static double maxAbsDiff(float[] a, float[] b) {
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    /** The bytes of the text tensors' parts {@code rank} holds under {@code plan}. */
    private static long textBytes(ShardingPlan plan, int rank) {
        long sum = 0;
        for (Tensor t : ck.tensors().values()) {
            ShardingPlan.Rule rule = plan.rule(t.name());
            if (rule.role() != TensorRole.VISION) {
                sum += ShardingPlan.partBytes(t.shape(), t.dtype().bytes(), rule.placement(), rank);
            }
        }
        return sum;
    }
}
