package io.peregrine.engine.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** fp32 results that differ only in summation order: |Δ| ≤ 1e-5 · Σ|terms| per element (plus a tiny floor). */
final class Close {
    private Close() {}

    static void assertClose(float[] expected, float[] actual, float[] magnitude, String what) {
        assertEquals(expected.length, actual.length, what + " length");
        for (int i = 0; i < expected.length; i++) {
            double limit = 1e-5 * magnitude[i] + 1e-6;
            assertTrue(Math.abs(expected[i] - actual[i]) <= limit,
                    what + "[" + i + "]: " + actual[i] + " vs " + expected[i] + " (limit " + limit + ")");
        }
    }

    static float[] abs(float[] x) {
        float[] a = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            a[i] = Math.abs(x[i]);
        }
        return a;
    }
}
