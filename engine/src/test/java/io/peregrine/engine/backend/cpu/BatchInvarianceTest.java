package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.peregrine.engine.backend.HostTensor;
import io.peregrine.engine.backend.LinearWeight;
import io.peregrine.engine.backend.Product;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Batch-invariant mode: a token's product has the same bits alone and in any batch, through {@code matmul} and
 * {@code matmulAll}. The default mode's tiled batch kernels sum in another order, which the last test shows (so
 * this test would notice if invariant mode quietly fell back to them).
 */
class BatchInvarianceTest {
    private static final CpuBackend INVARIANT = new CpuBackend(3, true);
    private static final CpuBackend TILED = new CpuBackend(3);

    @AfterAll
    static void close() {
        INVARIANT.close();
        TILED.close();
    }

    @ParameterizedTest
    @CsvSource({"bf16,37,130", "bf16,64,1024", "int4,37,128", "int4,96,2048"})
    void eachTokenAloneEqualsItsRowInAnyBatch(String kind, int rows, int cols) {
        Random rnd = new Random(rows * 7L + cols);
        LinearWeight w = weight(INVARIANT, kind, rnd, rows, cols);
        int maxN = 9;
        float[] x = RandomWeights.floats(rnd, maxN * cols);
        float[][] alone = alone(INVARIANT, w, x, maxN);
        for (int n = 2; n <= maxN; n++) {
            float[] y = new float[n * rows];
            INVARIANT.matmul(w, dense(Arrays.copyOf(x, n * cols), n, cols), dense(y, n, rows));
            float[] z = new float[n * rows];
            INVARIANT.matmulAll(java.util.List.of(new Product(w, dense(Arrays.copyOf(x, n * cols), n, cols), dense(z, n, rows))));
            for (int t = 0; t < n; t++) {
                assertArrayEquals(alone[t], Arrays.copyOfRange(y, t * rows, (t + 1) * rows), kind + " token " + t + " of " + n);
                assertArrayEquals(alone[t], Arrays.copyOfRange(z, t * rows, (t + 1) * rows), kind + " matmulAll " + t + " of " + n);
            }
        }
    }

    @Test
    void theTiledKernelsAreNotInvariant() {
        Random rnd = new Random(11);
        int rows = 64;
        int cols = 1024;
        LinearWeight w = weight(TILED, "bf16", rnd, rows, cols);
        float[] x = RandomWeights.floats(rnd, 4 * cols);
        float[][] alone = alone(TILED, w, x, 4);
        float[] y = new float[4 * rows];
        TILED.matmul(w, dense(x, 4, cols), dense(y, 4, rows));
        boolean same = true;
        for (int t = 0; t < 4; t++) {
            same &= Arrays.equals(alone[t], Arrays.copyOfRange(y, t * rows, (t + 1) * rows));
        }
        assertFalse(same, "the tiled batch kernel now sums like the one-token kernel: invariant mode could use it");
    }

    private static LinearWeight weight(CpuBackend b, String kind, Random rnd, int rows, int cols) {
        return kind.equals("bf16") ? b.upload(RandomWeights.bf16(rnd, rows, cols)) : b.upload(RandomWeights.int4(rnd, rows, cols));
    }

    private static float[][] alone(CpuBackend b, LinearWeight w, float[] x, int n) {
        int cols = w.cols();
        float[][] out = new float[n][w.rows()];
        for (int t = 0; t < n; t++) {
            b.matmul(w, dense(Arrays.copyOfRange(x, t * cols, (t + 1) * cols), 1, cols), dense(out[t], 1, w.rows()));
        }
        return out;
    }

    private static HostTensor dense(float[] a, int rows, int cols) {
        return new HostTensor(a, 0, rows, cols, cols);
    }
}
