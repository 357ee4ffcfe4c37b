package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** The vision kernels' Vector API paths against their scalar twins on odd sizes, and the erfc approximation. */
class VisionKernelsTest {

    @ParameterizedTest
    @CsvSource({"1", "7", "36", "101", "1152"})
    void layerNormVectorEqualsScalarTwin(int n) {
        Random rnd = new Random(n);
        float[] x = RandomWeights.floats(rnd, n + 3);
        float[] w = RandomWeights.floats(rnd, n);
        float[] b = RandomWeights.floats(rnd, n);
        float[] vec = new float[n + 2];
        float[] sca = new float[n + 2];
        VisionKernels.layerNorm(x, 3, n, w, b, 1e-5f, vec, 2, true);
        VisionKernels.layerNorm(x, 3, n, w, b, 1e-5f, sca, 2, false);
        for (int i = 0; i < n; i++) {
            assertEquals(sca[2 + i], vec[2 + i], 1e-5 * (1 + Math.abs(sca[2 + i])), "element " + i);
        }
    }

    @ParameterizedTest
    @CsvSource({"1,8", "5,16", "37,72", "130,20"})
    void segmentAttentionVectorEqualsScalarTwin(int len, int headDim) {
        Random rnd = new Random(len * 31L + headDim);
        int heads = 2, cols = heads * headDim, rows = len + 4;
        float[] q = RandomWeights.floats(rnd, rows * cols);
        float[] k = RandomWeights.floats(rnd, rows * cols);
        float[] v = RandomWeights.floats(rnd, rows * cols);
        float[] vec = new float[rows * cols];
        float[] sca = new float[rows * cols];
        float[] scores = new float[len];
        for (int t = 2; t < 2 + len; t++) {
            for (int h = 0; h < heads; h++) {
                VisionKernels.attendSegment(q, 0, cols, k, 0, cols, v, 0, cols, t, h, headDim, 2, 2 + len, 0.2f, vec, 0,
                        cols, scores, true);
                VisionKernels.attendSegment(q, 0, cols, k, 0, cols, v, 0, cols, t, h, headDim, 2, 2 + len, 0.2f, sca, 0,
                        cols, scores, false);
            }
        }
        for (int i = 0; i < vec.length; i++) {
            assertEquals(sca[i], vec[i], 1e-5 * (1 + Math.abs(sca[i])), "element " + i);
        }
        // the packed form (what the backend runs) against the row form's scalar twin
        float[] kt = new float[len * headDim];
        float[] vt = new float[len * headDim];
        float[] packed = new float[rows * cols];
        for (int h = 0; h < heads; h++) {
            VisionKernels.packSegment(k, 0, cols, v, 0, cols, h, headDim, 2, len, kt, vt, 0);
            for (int t = 2; t < 2 + len; t++) {
                VisionKernels.attendPacked(q, t * cols + h * headDim, kt, vt, 0, len, headDim, 0.2f, packed,
                        t * cols + h * headDim, scores, true);
            }
        }
        for (int i = 0; i < vec.length; i++) {
            assertEquals(sca[i], packed[i], 1e-5 * (1 + Math.abs(sca[i])), "packed element " + i);
        }
    }

    /** Against erfc by Simpson's rule; relative error within the fit's stated 1.2e-7 (plus the rule's own). */
    @Test
    void erfcWithinItsStatedRelativeError() {
        for (double x = -6; x <= 6; x += 0.0371) {
            double ref = x >= 0 ? 1 - erf(x) : 1 + erf(-x);
            if (x > 2) {
                ref = tailErfc(x);
            }
            double rel = Math.abs(VisionKernels.erfc(x) - ref) / ref;
            assertTrue(rel < 2e-7, "erfc(" + x + ") relative error " + rel);
        }
    }

    private static double erf(double x) {
        int panels = 4000;
        double h = x / panels;
        double sum = 1 + Math.exp(-x * x);
        for (int i = 1; i < panels; i++) {
            double t = i * h;
            sum += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t);
        }
        return 2 / Math.sqrt(Math.PI) * sum * h / 3;
    }

    /** erfc(x) = 2/√π ∫_x^∞ exp(−t²) dt by Simpson's rule over [x, x + 8] (the rest is below 1e-30). */
    private static double tailErfc(double x) {
        int panels = 8000;
        double h = 8.0 / panels;
        double sum = Math.exp(-x * x) + Math.exp(-(x + 8) * (x + 8));
        for (int i = 1; i < panels; i++) {
            double t = x + i * h;
            sum += (i % 2 == 1 ? 4 : 2) * Math.exp(-t * t);
        }
        return 2 / Math.sqrt(Math.PI) * sum * h / 3;
    }
}
