package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Element-wise kernels against their scalar twins on lengths around the vector width. */
class VectorMathTest {

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
        Close.assertClose(s2, s1, Close.abs(s2), "siluMul");
    }
}
