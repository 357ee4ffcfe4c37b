package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Element-wise kernels against their scalar twins on lengths around the vector width. */
class VectorMathTest {

    /**
     * The lane sum is bit-for-bit the fixed halving order, so every JIT tier gives the same product (the intrinsic
     * reduceLanes(ADD) did not: its order differs from the interpreter's).
     */
    @org.junit.jupiter.api.Test
    void sumLanesIsTheFixedHalvingOrder() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 2000; trial++) {
            float[] lanes = new float[VectorMath.L];
            for (int i = 0; i < lanes.length; i++) {
                // wide exponents so a different order changes the rounded sum
                lanes[i] = (float) (rnd.nextGaussian() * Math.pow(10, rnd.nextInt(9) - 4));
            }
            float[] t = lanes.clone();
            for (int h = t.length / 2; h > 0; h >>= 1) {
                for (int i = 0; i < h; i++) {
                    t[i] += t[i + h];
                }
            }
            float got = VectorMath.sumLanes(jdk.incubator.vector.FloatVector.fromArray(VectorMath.F, lanes, 0));
            org.junit.jupiter.api.Assertions.assertEquals(Float.floatToRawIntBits(t[0]), Float.floatToRawIntBits(got),
                    () -> java.util.Arrays.toString(lanes));
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 15, 16, 17, 33, 64, 513, 7168})
    void dotAxpyNormAndSwigluEqualScalar(int n) {
        Random rnd = new Random(n);
        float[] a = RandomWeights.floats(rnd, n + 2);
        float[] b = RandomWeights.floats(rnd, n + 3);
        float[] mag = {VectorMath.dotScalar(Close.abs(a), 2, Close.abs(b), 3, n)};
        Close.assertClose(new float[] {VectorMath.dotScalar(a, 2, b, 3, n)}, new float[] {VectorMath.dot(a, 2, b, 3, n)},
                mag, "dot");

        float[] y1 = b.clone();
        float[] y2 = b.clone();
        VectorMath.axpy(0.37f, a, 2, y1, 3, n);
        VectorMath.axpyScalar(0.37f, a, 2, y2, 3, n);
        Close.assertClose(y2, y1, Close.abs(y2), "axpy");

        float[] w = RandomWeights.floats(rnd, n);
        float[] o1 = new float[n + 1];
        float[] o2 = new float[n + 1];
        VectorMath.rmsNorm(a, 2, n, w, 1e-5f, o1, 1);
        VectorMath.rmsNormScalar(a, 2, n, w, 1e-5f, o2, 1);
        Close.assertClose(o2, o1, Close.abs(o2), "rmsNorm");
        assertEquals(0f, o1[0]);

        float[] g = RandomWeights.floats(rnd, n);
        float[] u = RandomWeights.floats(rnd, n);
        float[] s1 = new float[n];
        float[] s2 = new float[n];
        VectorMath.siluMul(g, u, s1, n);
        VectorMath.siluMulScalar(g, u, s2, n);
        assertArrayEquals(s2, s1, "siluMul: the same bits as its scalar twin, warm or cold");
    }

    /**
     * Warm: after enough calls for C2 to compile the kernel, SwiGLU still gives its scalar twin's bits (with
     * {@code lanewise(EXP)} it did not: C2's SVML exp and the interpreter's {@code Math.exp} differ in the last bit).
     */
    @org.junit.jupiter.api.Test
    void siluMulKeepsItsBitsOnceCompiled() {
        Random rnd = new Random(5);
        int n = 1024;
        float[] g = new float[n];
        float[] u = new float[n];
        for (int i = 0; i < n; i++) {
            g[i] = (float) rnd.nextGaussian() * 3;
            u[i] = (float) rnd.nextGaussian();
        }
        float[] want = new float[n];
        VectorMath.siluMulScalar(g, u, want, n);
        float[] got = new float[n];
        for (int rep = 0; rep < 20_000; rep++) {
            VectorMath.siluMul(g, u, got, n);
        }
        assertArrayEquals(want, got);
    }

    /** The deterministic exp: vector = scalar twin bit for bit, within 1.5 ulp of the true exp where it is normal. */
    @org.junit.jupiter.api.Test
    void expIsItsTwinAndWithinAnUlpAndAHalf() {
        Random rnd = new Random(9);
        int n = VectorMath.L * 4096;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (rnd.nextDouble() * 180 - 90);
        }
        float[] edge = {0f, -0f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.3f, -87.3f, 100f, -100f, 0.5f, -0.5f};
        System.arraycopy(edge, 0, x, 0, edge.length);
        float[] got = new float[n];
        for (int rep = 0; rep < 50; rep++) {
            for (int i = 0; i < n; i += VectorMath.L) {
                VectorMath.exp(jdk.incubator.vector.FloatVector.fromArray(VectorMath.F, x, i)).intoArray(got, i);
            }
        }
        double worst = 0;
        for (int i = 0; i < n; i++) {
            float s = VectorMath.exp(x[i]);
            assertEquals(Float.floatToRawIntBits(s), Float.floatToRawIntBits(got[i]), "x = " + x[i]);
            float clamped = Math.min(Math.max(x[i], -87.3f), 88.3f);
            double want = Math.exp(clamped);
            worst = Math.max(worst, Math.abs(s - want) / Math.ulp((float) want));
        }
        org.junit.jupiter.api.Assertions.assertTrue(worst <= 1.5, "worst error " + worst + " ulp");
    }
}
