package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.Activation;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.MoeBlock;
import io.peregrine.engine.backend.MoeRouter;
import io.peregrine.engine.backend.MoeScratch;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.Tensor;
import java.lang.foreign.Arena;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@link CudaBackend#moe}'s host side on a recording fake device: the experts' address table written once per
 * expert at load, then per call the same kernels in the same order with grids that follow the token count only
 * (the grouped GEMVs sized for every assignment on its own expert, gate‖up as grid z = 2), this rank's expert range
 * and the table handed to the kernels, no copy to or from the host and no wait, and group-limited routing refused.
 */
class CudaMoeLaunchTest {
    static final int EXPERTS = 16, K = 4, HIDDEN = 64, INTER = 32, SHARED = 64, FIRST = 4, HELD = 6;

    private final FakeDriver driver = new FakeDriver();
    private final CudaContext ctx = driver.open("fake");
    private final CudaBackend backend = new CudaBackend(ctx, CudaBackend.Options.FP32, "fake");
    private final Arena arena = Arena.ofAuto();

    @Test
    void aMoeCallLaunchesTheSameKernelsForAnyRoutingAndWaitsForNothing() {
        List<LinearWeight> gate = new ArrayList<>(), up = new ArrayList<>(), down = new ArrayList<>();
        for (int e = 0; e < HELD; e++) {
            gate.add(backend.upload(int4(INTER, HIDDEN)));
            up.add(backend.upload(int4(INTER, HIDDEN)));
            down.add(backend.upload(int4(HIDDEN, INTER)));
        }
        driver.reset();
        MoeBlock block = new MoeBlock(new MoeRouter(EXPERTS, 1, 1, K, true, 2.5f), backend.vector(new float[EXPERTS]),
                backend.stackExperts(FIRST, gate, up, down), backend.upload(bf16(SHARED, HIDDEN)),
                backend.upload(bf16(SHARED, HIDDEN)), backend.upload(bf16(HIDDEN, SHARED)));
        assertEquals(HELD, driver.launches(ctx, KernelName.EXPERT_TABLE_SET), "one table launch per expert at load");
        MoeScratch scratch = backend.moeScratch(block, 8);

        List<KernelName> want = List.of(KernelName.MOE_ROUTER, KernelName.MOE_PERMUTE, KernelName.BF16_GEMV,
                KernelName.BF16_GEMV, KernelName.MOE_INT4_GEMV, KernelName.SILU_MUL_ROWS, KernelName.MOE_INT4_GEMV,
                KernelName.SILU_MUL_ROWS, KernelName.BF16_GEMV, KernelName.MOE_COMBINE_HELD);
        for (int n : new int[] {1, 3, 8}) {
            Activation x = backend.allocate(n, HIDDEN);
            Activation logits = backend.allocate(n, EXPERTS);
            Activation out = backend.allocate(n + 1, HIDDEN + 4).rows(1, n).cols(4, HIDDEN);
            driver.reset();
            backend.moe(block, x, logits, scratch, out);
            assertEquals(want, kernels(), "n = " + n);
            List<String> other = driver.calls.stream().map(FakeDriver.Call::name)
                    .filter(c -> !c.equals("launch")).toList();
            assertEquals(List.of(), other, "n = " + n + ": no copy, fill, allocation or wait");
            LaunchGeometry gateUp = driver.geometries.get(4);
            LaunchGeometry dn = driver.geometries.get(6);
            int slots = Math.min(EXPERTS, n * K);
            assertEquals(List.of(slots, 2), List.of(gateUp.gridY(), gateUp.gridZ()), "gate‖up: every assignment's slot");
            assertEquals(List.of(slots, 1), List.of(dn.gridY(), dn.gridZ()));
            assertEquals(n, driver.geometries.get(0).gridX(), "the router: one block per token");
            assertEquals(n, driver.geometries.get(9).gridX(), "the combine: one block per token");
            Object[] gemv = launchArgs(4);
            assertEquals(List.of(HELD, FIRST, 0, INTER, HIDDEN), List.of(gemv[1], gemv[2], gemv[3], gemv[4], gemv[5]),
                    "held experts, the first one's id, the gate set, rows, cols");
            Object[] downArgs = launchArgs(6);
            assertEquals(List.of(2, HIDDEN, INTER), List.of(downArgs[3], downArgs[4], downArgs[5]), "the down set");
            Object[] combine = launchArgs(9);
            assertEquals(List.of(K, FIRST, HELD), List.of(combine[5], combine[6], combine[7]));
            assertEquals(HIDDEN + 4, combine[11], "the output's row stride");
        }

        // strided router logits: copied on the device into a dense block first, still no host traffic
        Activation wide = backend.allocate(3, EXPERTS + 8).cols(2, EXPERTS);
        driver.reset();
        backend.moe(block, backend.allocate(3, HIDDEN), wide, scratch, backend.allocate(3, HIDDEN));
        assertEquals(1, driver.calls("copyOnDevice").size());
        assertEquals(want, kernels());
        assertEquals(0, driver.calls("synchronize").size() + driver.calls("copyToHost").size());
    }

    @Test
    void aRankWithoutExpertsOfTheLayerRunsTheRouterTheSharedExpertAndTheCombine() {
        MoeBlock block = new MoeBlock(new MoeRouter(EXPERTS, 1, 1, K, true, 2.5f), backend.vector(new float[EXPERTS]),
                backend.stackExperts(EXPERTS, List.of(), List.of(), List.of()), backend.upload(bf16(SHARED, HIDDEN)),
                backend.upload(bf16(SHARED, HIDDEN)), backend.upload(bf16(HIDDEN, SHARED)));
        MoeScratch scratch = backend.moeScratch(block, 2);
        driver.reset();
        backend.moe(block, backend.allocate(2, HIDDEN), backend.allocate(2, EXPERTS), scratch,
                backend.allocate(2, HIDDEN));
        assertEquals(List.of(KernelName.MOE_ROUTER, KernelName.MOE_PERMUTE, KernelName.BF16_GEMV, KernelName.BF16_GEMV,
                KernelName.SILU_MUL_ROWS, KernelName.BF16_GEMV, KernelName.MOE_COMBINE_HELD), kernels());
    }

    @Test
    void groupLimitedRoutingIsRefusedWithTheConfigNamed() {
        MoeBlock block = new MoeBlock(new MoeRouter(EXPERTS, 4, 2, K, true, 2.5f), backend.vector(new float[EXPERTS]),
                backend.stackExperts(0, List.of(), List.of(), List.of()), null, null, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> backend.moeScratch(block, 4));
        assertTrue(e.getMessage().contains("topk_group 2 of n_group 4"), e.getMessage());
    }

    private List<KernelName> kernels() {
        List<KernelName> names = new ArrayList<>();
        for (var f : driver.launched) {
            for (KernelName k : KernelName.values()) {
                if (ctx.function(k) == f) {
                    names.add(k);
                }
            }
        }
        return names;
    }

    private Object[] launchArgs(int launch) {
        return driver.calls("launch").get(launch).args();
    }

    private Int4Group32 int4(int rows, int cols) {
        var packed = arena.allocate((long) rows * cols / 2, 4);
        var scale = arena.allocate((long) rows * cols / 32 * 2, 2);
        return new Int4Group32("w", rows, cols, new Tensor("w.weight_packed", DType.I32, new long[] {rows, cols / 8}, packed),
                new Tensor("w.weight_scale", DType.BF16, new long[] {rows, cols / 32}, scale));
    }

    private Tensor bf16(int rows, int cols) {
        return new Tensor("w", DType.BF16, new long[] {rows, cols}, arena.allocate((long) rows * cols * 2, 2));
    }
}
