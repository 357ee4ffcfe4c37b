package io.peregrine.kernels.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.kernels.layout.Int4ExpertStack;
import org.junit.jupiter.api.Test;

/** What CudaBackend refuses before anything reaches the device, and the int tables its INT4 launches read. */
class BackendArgsTest {
    static final DeviceWeight.Bf16 BF16 = new DeviceWeight.Bf16("layers.0.self_attn.kv_b_proj", 8 * 10, 32, null);
    static final DeviceWeight.Int4 INT4 = new DeviceWeight.Int4("layers.1.mlp.experts.0.up_proj", 64, 64,
            new Int4ExpertStack(1, 64, 64), null, null);

    @Test
    void rowsThatDoNotFitNameTheOperand() {
        var e = assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.rows(new float[10], 2, 4, 3, 4, "x of w"));
        assertTrue(e.getMessage().startsWith("x of w: 3 rows of 4"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.rows(new float[10], 0, 3, 2, 4, "stride under width"));
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.rows(new float[10], -1, 4, 1, 4, "negative offset"));
        assertDoesNotThrow(() -> BackendArgs.rows(new float[10], 2, 4, 2, 4, "fits exactly"));
        assertDoesNotThrow(() -> BackendArgs.rows(new float[0], 5, 1, 0, 4, "no rows"));
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.range(new float[4], 1, 4, "r"));
    }

    @Test
    void weightsFromAnotherBackendOrOfTheWrongKindAreRefused() {
        LinearWeight foreign = new LinearWeight() {
            public String name() {
                return "cpu.weight";
            }

            public int rows() {
                return 1;
            }

            public int cols() {
                return 8;
            }

            public long weightBytes() {
                return 16;
            }
        };
        var e = assertThrows(IllegalArgumentException.class, () -> BackendArgs.cuda(foreign));
        assertTrue(e.getMessage().contains("not a CUDA weight: cpu.weight"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> BackendArgs.bf16(INT4, "the transposed product"));
        assertTrue(e.getMessage().contains("needs a BF16 weight") && e.getMessage().contains("up_proj"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.band(INT4, 60, 5));
        assertDoesNotThrow(() -> BackendArgs.band(INT4, 60, 4));
    }

    @Test
    void perHeadGeometryIsChecked() {
        // 8 heads of 10 rows (nope 4 + v 6), 32 columns
        assertDoesNotThrow(() -> BackendArgs.heads(BF16, false, 8, 10, 4, 6, new float[8 * 32], 0, 32, new float[8 * 6], 0, 6));
        assertDoesNotThrow(() -> BackendArgs.heads(BF16, true, 8, 10, 0, 4, new float[8 * 4], 0, 4, new float[8 * 32], 0, 32));
        var e = assertThrows(IllegalArgumentException.class,
                () -> BackendArgs.heads(BF16, false, 9, 10, 4, 6, new float[9 * 32], 0, 32, new float[9 * 6], 0, 6));
        assertTrue(e.getMessage().contains("9 heads"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> BackendArgs.heads(BF16, false, 8, 10, 5, 6, new float[8 * 32], 0, 32, new float[8 * 6], 0, 6));
        assertThrows(IndexOutOfBoundsException.class,
                () -> BackendArgs.heads(BF16, true, 8, 10, 0, 4, new float[8 * 4], 0, 4, new float[8 * 32 - 1], 0, 32));
    }

    @Test
    void attentionShapesAndSlotsAreChecked() {
        assertDoesNotThrow(() -> BackendArgs.attentionNaive(new float[2 * 3 * 12], 2, 1, new float[3 * 3 * 14], new float[3 * 4],
                3, 8, 4, 6, new float[2 * 3 * 6]));
        var e = assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.attentionNaive(new float[2 * 3 * 12], 2, 1,
                new float[3 * 3 * 14 - 1], new float[3 * 4], 3, 8, 4, 6, new float[2 * 3 * 6]));
        assertTrue(e.getMessage().contains("kv"), e.getMessage());
        var big = assertThrows(IllegalArgumentException.class, () -> BackendArgs.attentionNaive(new float[1], 1, 0,
                new float[1], new float[1], 1, 500, 64, 1, new float[1]));
        assertTrue(big.getMessage().contains("512"), big.getMessage());

        float[] slab = new float[5 * 6];  // 5 slots of 4 + 2
        assertDoesNotThrow(() -> BackendArgs.attentionAbsorbed(new float[2 * 4], 0, new float[2 * 2], 0, 2, 2, 4, 2, slab,
                new int[] {4, 0, 2}, 3, new float[8], 0));
        e = assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.attentionAbsorbed(new float[2 * 4], 0,
                new float[2 * 2], 0, 2, 2, 4, 2, slab, new int[] {4, 5, 2}, 3, new float[8], 0));
        assertTrue(e.getMessage().contains("position 1 has slot 5"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.attentionAbsorbed(new float[2 * 4], 0,
                new float[2 * 2], 0, 2, 2, 4, 2, slab, new int[] {4}, 3, new float[8], 0));
        assertThrows(IndexOutOfBoundsException.class, () -> BackendArgs.attentionAbsorbed(new float[2 * 4], 1,
                new float[2 * 2], 0, 2, 2, 4, 2, slab, new int[] {4}, 1, new float[8], 0));
    }

    @Test
    void int4LaunchTables() {
        // decode kernel: one active expert 0 owning rows 0 .. n
        assertArrayEquals(new int[] {0, 1, 0, 5}, CudaBackend.int4LaunchTable(false, 5));
        // tensor-core kernel: tiles of 64 rows of expert 0 (experts, first rows, row counts)
        assertArrayEquals(new int[] {0, 0, 0, 0, 64, 128, 64, 64, 2}, CudaBackend.int4LaunchTable(true, 130));
    }

    @Test
    void theAbsorbedKernelsSharedMemoryIsBounded() {
        var g = Geometries.mlaAbsorbedF32(64, 512, 64);
        assertTrue(g.sharedBytes() == 4 * (2 * 512 + 64 + Geometries.ABSORBED_F32_THREADS), "" + g);
        assertThrows(IllegalArgumentException.class, () -> Geometries.mlaAbsorbedF32(1, 6100, 64));
    }
}
