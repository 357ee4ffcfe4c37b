package io.peregrine.engine.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The golden README's text tolerance: per row max|Δ| ≤ 1e-3 absolute and ≤ 1e-4 × max|logit|. */
final class Logits {
    private Logits() {}

    static void assertClose(float[] expected, float[] actual, String what) {
        assertCloseWithin(expected, actual, 1e-3, 1e-4, what);
    }

    static void assertCloseWithin(float[] expected, float[] actual, double abs, double relToMax, String what) {
        assertTrue(expected.length == actual.length, what + ": length " + actual.length + " != " + expected.length);
        double maxAbs = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        }
        double limit = Math.min(abs, relToMax * maxAbs);
        assertTrue(maxDiff <= limit, what + ": max|Δ| " + maxDiff + " > " + limit + " (max|logit| " + maxAbs + ")");
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
