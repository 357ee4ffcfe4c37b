package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The register tile against its scalar twin: the same lane-wise fused multiply-adds in column order, so the
 * accumulators must agree to the bit, at odd offsets and strides, starting from non-zero partial sums.
 */
class TileKernelsTest {
    @ParameterizedTest
    @CsvSource({"1,0,0", "3,5,7", "17,1,13", "66,3,0"})
    void dot4x4EqualsScalarTwin(int vectors, int wPad, int xPad) {
        int len = vectors * VectorMath.L;
        Random rnd = new Random(vectors * 31L + wPad * 7L + xPad);
        int wStride = len + wPad;
        float[] w = RandomWeights.floats(rnd, wPad + 4 * wStride);
        float[] x = RandomWeights.floats(rnd, xPad + 5 * (len + xPad));
        // tokens out of order, one repeated (as the padded last tile does)
        int x0 = xPad + 2 * (len + xPad);
        int x1 = xPad;
        int x2 = xPad + 4 * (len + xPad);
        int x3 = x2;
        int aStride = 6 * VectorMath.L;
        float[] acc = RandomWeights.floats(rnd, 3 + 4 * aStride);
        float[] expected = acc.clone();
        TileKernels.dot4x4(w, wPad, wStride, x, x0, x1, x2, x3, len, acc, 3, aStride);
        TileKernels.dot4x4Scalar(w, wPad, wStride, x, x0, x1, x2, x3, len, expected, 3, aStride);
        assertArrayEquals(expected, acc);
    }
}
