package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.MoeRouter;
import org.junit.jupiter.api.Test;

/**
 * The device router computes {@link MoeRouter} only when every group is kept (Kimi K2.5: one group): group-limited
 * configs are refused on the host before anything is launched, and the normalisation follows the config as the CPU
 * router does.
 */
class DeviceOpsRouterTest {

    private final FakeDriver driver = new FakeDriver();
    private final CudaContext ctx = driver.open("fake");
    private final DeviceOps ops = new DeviceOps(ctx);
    private final DeviceBuffer buf = ctx.floats(1024);

    private Object[] route(MoeRouter config) {
        driver.calls.clear();
        ops.router(buf, 2, config, buf, buf, buf);
        return driver.calls("launch").getFirst().args();
    }

    @Test
    void groupLimitedRoutingIsRefusedBeforeAnyLaunch() {
        // DeepSeek-V3's own config: 256 experts in 8 groups, the best 4 groups kept
        MoeRouter grouped = new MoeRouter(256, 8, 4, 8, true, 2.5f);
        driver.calls.clear();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ops.router(buf, 2, grouped, buf, buf, buf));
        assertTrue(e.getMessage().contains("topk_group 4 of n_group 8"), e.getMessage());
        assertTrue(e.getMessage().contains("CPU backend"), e.getMessage());
        assertTrue(driver.calls("launch").isEmpty(), "nothing launched for a refused config");
        assertThrows(IllegalArgumentException.class, () -> ops.router(buf, 2, new MoeRouter(64, 8, 7, 8, true, 1f), buf, buf, buf));
        assertThrows(IllegalArgumentException.class, () -> ops.router(buf, 2, new MoeRouter(128, 1, 1, 65, true, 1f), buf, buf, buf));
    }

    @Test
    void keepingEveryGroupIsPlainTopKAndRuns() {
        // MoeRouter with all groups kept allows every expert, exactly the one-group routing
        Object[] a = route(new MoeRouter(64, 8, 8, 6, true, 1f));
        assertEquals(6, a[3]);
        float[] logits = new float[64];
        float[] bias = new float[64];
        java.util.Random rnd = new java.util.Random(3);
        for (int e = 0; e < 64; e++) {
            logits[e] = (float) rnd.nextGaussian();
            bias[e] = (float) rnd.nextGaussian() * 0.1f;
        }
        int[] all = new int[6];
        int[] one = new int[6];
        new MoeRouter(64, 8, 8, 6, true, 1f).route(logits, 0, bias, all, new float[6]);
        new MoeRouter(64, 1, 1, 6, true, 1f).route(logits, 0, bias, one, new float[6]);
        org.junit.jupiter.api.Assertions.assertArrayEquals(one, all);
    }

    @Test
    void kimiK25RoutingLaunchesWithTheConfigsNormalisation() {
        Object[] a = route(new MoeRouter(384, 1, 1, 8, true, 2.827f));
        assertEquals(384, a[2]);
        assertEquals(8, a[3]);
        assertEquals(2.827f, a[4]);
        assertEquals(1, a[5], "norm_topk_prob with k > 1 normalises");
        assertEquals(0, route(new MoeRouter(384, 1, 1, 8, false, 2.827f))[5], "norm_topk_prob false: raw scores");
        assertEquals(0, route(new MoeRouter(384, 1, 1, 1, true, 1f))[5], "one expert: MoeRouter keeps its raw score");
        assertEquals(KernelArgs.signature(buf, buf, 0, 0, 0f, 0, buf, buf), KernelArgs.signature(a));
    }

    @Test
    void samplingOverAnEmptyVocabularyIsRefused() {
        assertThrows(IllegalArgumentException.class, () -> ops.argmax(buf, 1, 0, buf));
        assertThrows(IllegalArgumentException.class, () -> ops.sampleTopP(buf, 1, 0, 1f, 0.9f, buf, buf));
        assertThrows(IllegalArgumentException.class, () -> ops.sampleTopP(buf, 1, 10, Float.NaN, 0.9f, buf, buf));
    }
}
