package io.peregrine.engine.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.ModelSize;
import io.peregrine.engine.checkpoint.TensorSpec;
import io.peregrine.engine.config.ModelConfig;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class CapacityPlanTest {
    static final long GIB = 1L << 30;

    static CapacityPlan.Request h200(OptionalLong kv, int maxModelLen) {
        return new CapacityPlan.Request(8, 141 * GIB, 0.9, CapacityPlan.DEFAULT_RESERVE, kv, maxModelLen, 2, 64);
    }

    /**
     * vLLM's Kimi-K2-Thinking TP8 log on H200 (vllm-project/recipes#115): "Available KV cache memory: 46.80 GiB",
     * "GPU KV cache size: 715,072 tokens". MLA caches (512 + 64) bf16 values per token in each of 61 layers,
     * 70,272 B, on every rank; FlashMLA's blocks are 64 tokens and only whole blocks count:
     * 46.80 GiB / (64 * 70,272 B) = 11,173.3 -> 11,173 blocks = 715,072 tokens.
     */
    @Test
    void agreesWithVllmsKimiK2ThinkingTp8LogOnH200() {
        CapacityPlan plan = CapacityPlan.of(RealK25.TP8, h200(OptionalLong.of((long) (46.80 * GIB)), 262_144));
        assertEquals(70_272, plan.kv().bytesPerToken());
        assertEquals(715_072, plan.kvTokens(), 715_072 * 0.001);
        assertEquals(715_072, plan.kvTokens());
        assertEquals(2, plan.maxConcurrentSequences());
        assertTrue(plan.fits(), plan.render());
        assertTrue(plan.render().contains("11,173 blocks = 715,072 tokens"), plan.render());
    }

    /**
     * The default reserve, checked the other way round: K2-Thinking is K2.5's text model without the vision tower;
     * on an H200 as the driver reports it (143,771 MiB) at vLLM's default 0.9 utilization the plan leaves the KV cache
     * vLLM measured, 46.80 GiB, within 0.1 GiB.
     */
    @Test
    void defaultReserveLeavesVllmsKvBudgetForK2Thinking() {
        CapacityPlan k25 = CapacityPlan.of(RealK25.TP8, new CapacityPlan.Request(8, 143_771L << 20, 0.9,
                CapacityPlan.DEFAULT_RESERVE, OptionalLong.empty(), 262_144, 2, 64));
        long k2Kv = k25.kvBytes() + k25.weightsByRole().get(TensorRole.VISION);
        assertEquals(46.80, k2Kv / (double) GIB, 0.1, k25.render());
    }

    @Test
    void weightsPerRankAreTheSplitShareOfEachTensorPlusTheReplicatedOnes() {
        ModelConfig c = RealK25.CONFIG;
        ShardingPlan sharding = RealK25.TP8.sharding();
        long replicated = 0;
        for (TensorSpec s : RealK25.LAYOUT) {
            if (sharding.rule(s.name()).placement() instanceof Placement.Replicated) {
                replicated += s.byteSize();
            }
        }
        CapacityPlan plan = CapacityPlan.of(RealK25.TP8, h200(OptionalLong.empty(), 262_144));
        long total = ModelSize.of(c, RealK25.LAYOUT).totalBytes();
        // Every split divides evenly at TP8, so each rank holds exactly an eighth of the rest.
        assertEquals((total - replicated) / 8 + replicated, plan.weightBytes());
        assertEquals(0, (total - replicated) % 8);
        assertTrue(plan.weightBytes() > 68 * GIB && plan.weightBytes() < 72 * GIB, plan.render());
        assertTrue(plan.fits(), plan.render());
        assertEquals((long) Math.floor(141 * GIB * 0.9) - plan.weightBytes() - CapacityPlan.DEFAULT_RESERVE, plan.kvBytes());
        // EP moves whole experts but the bytes per rank are the same: 48 of 384 experts each.
        CapacityPlan ep = CapacityPlan.of(RankWeights.of(new ShardingPlan(c, 8, true), RealK25.LAYOUT),
                h200(OptionalLong.empty(), 262_144));
        assertEquals(plan.weightBytes() - plan.weightsByRole().get(TensorRole.ROUTED_EXPERTS)
                + ep.weightsByRole().get(TensorRole.ROUTED_EXPERTS), ep.weightBytes());
    }

    @Test
    void refusesAPlanThatDoesNotFitAndSaysByHowMuch() {
        CapacityPlan h100 = CapacityPlan.of(RealK25.TP8, new CapacityPlan.Request(8, 80 * GIB, 0.9,
                CapacityPlan.DEFAULT_RESERVE, OptionalLong.empty(), 262_144, 2, 64));
        assertFalse(h100.fits());
        long need = h100.weightBytes() + CapacityPlan.DEFAULT_RESERVE;
        long usable = (long) Math.floor(80 * GIB * 0.9);
        String msg = h100.problems().getFirst();
        assertTrue(msg.startsWith("does not fit"), msg);
        assertTrue(msg.contains("short by " + io.peregrine.engine.checkpoint.Bytes.format(need - usable)), msg);

        CapacityPlan small = CapacityPlan.of(RealK25.TP8, h200(OptionalLong.of(GIB), 262_144));
        assertFalse(small.fits());
        // 1 GiB holds 238 blocks of 64 tokens; a 262,144-token sequence needs 4,096 of them.
        assertEquals(238 * 64, small.kvTokens());
        assertTrue(small.problems().getFirst().contains("holds 15,232 tokens per rank, fewer than one sequence of "
                + "--max-model-len 262,144"), small.problems().getFirst());
        assertTrue(small.render().contains("Refused:"), small.render());
    }
}
