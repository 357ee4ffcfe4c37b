package io.peregrine.engine.vision.encoder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.vision.GridThw;
import java.util.Random;
import org.junit.jupiter.api.Test;

class VisionPositionsTest {

    /**
     * Scalar twin of the separable interpolation: PyTorch's per-output loop (for each of 4 source rows, the
     * 4-tap x sum; then the row weights), written out directly. Same float operations in the same order, so the
     * results must be bit-identical on random shapes.
     */
    static float[] torchBicubicNaive(float[] t, int inH, int inW, int dim, int outH, int outW) {
        float a = -0.75f;
        float[] out = new float[outH * outW * dim];
        float sh = (float) inH / outH;
        float sw = (float) inW / outW;
        for (int oy = 0; oy < outH; oy++) {
            float sy = sh * (oy + 0.5f) - 0.5f;
            int iy = (int) Math.floor(sy);
            float ty = sy - iy;
            float[] wy = {cubic2(ty + 1f, a), cubic1(ty, a), cubic1(1f - ty, a), cubic2(2f - ty, a)};
            for (int ox = 0; ox < outW; ox++) {
                float sx = sw * (ox + 0.5f) - 0.5f;
                int ix = (int) Math.floor(sx);
                float tx = sx - ix;
                float[] wx = {cubic2(tx + 1f, a), cubic1(tx, a), cubic1(1f - tx, a), cubic2(2f - tx, a)};
                for (int c = 0; c < dim; c++) {
                    float s = 0f;
                    for (int i = 0; i < 4; i++) {
                        int yy = Math.clamp(iy - 1 + i, 0, inH - 1);
                        float r = 0f;
                        for (int j = 0; j < 4; j++) {
                            int xx = Math.clamp(ix - 1 + j, 0, inW - 1);
                            r += wx[j] * t[(yy * inW + xx) * dim + c];
                        }
                        s += wy[i] * r;
                    }
                    out[(oy * outW + ox) * dim + c] = s;
                }
            }
        }
        return out;
    }

    static float cubic1(float x, float a) {
        return ((a + 2f) * x - (a + 3f)) * x * x + 1f;
    }

    static float cubic2(float x, float a) {
        return ((a * x - 5f * a) * x + 8f * a) * x - 4f * a;
    }

    @Test
    void separableInterpolationEqualsNaiveOnRandomShapes() {
        Random rnd = new Random(7);
        for (int trial = 0; trial < 12; trial++) {
            int inH = 1 + rnd.nextInt(12);
            int inW = 1 + rnd.nextInt(12);
            int dim = 1 + rnd.nextInt(5);
            int outH = 1 + rnd.nextInt(20);
            int outW = 1 + rnd.nextInt(20);
            float[] t = new float[inH * inW * dim];
            for (int i = 0; i < t.length; i++) {
                t[i] = (float) rnd.nextGaussian();
            }
            assertArrayEquals(torchBicubicNaive(t, inH, inW, dim, outH, outW),
                    VisionPositions.interpolateBicubic(t, inH, inW, dim, outH, outW),
                    inH + "x" + inW + " -> " + outH + "x" + outW);
        }
    }

    @Test
    void sameGridUsesTheTableAndFramesAddTemporalTerm() {
        int dim = 8;
        float[] table = new float[4 * 4 * dim];
        for (int i = 0; i < table.length; i++) {
            table[i] = i;
        }
        float[] still = VisionPositions.posEmbedding(table, 4, 4, dim, new GridThw(1, 4, 4));
        assertArrayEquals(table, still);
        float[] video = VisionPositions.posEmbedding(table, 4, 4, dim, new GridThw(2, 4, 4));
        // frame 0: sin(0) = 0 on the first half, cos(0) = 1 on the second half
        assertEquals(table[0], video[0]);
        assertEquals(table[dim / 2] + 1f, video[dim / 2]);
        // frame 1, first channel: sin(1 * 10000^0) = sin(1)
        assertEquals(table[0] + (float) Math.sin(1.0), video[16 * dim], 1e-6);
    }

    @Test
    void ropePairsAlternateColumnAndRow() {
        float[][] cs = VisionPositions.rope(8, new GridThw(1, 2, 3)); // 4 pairs, freqs {1, 10000^-0.5}
        int pairs = 4;
        int p = 1 * 3 + 2; // row 1, column 2
        assertEquals((float) Math.cos(2f), cs[0][p * pairs], 1e-7);     // pair 0: column * freq0
        assertEquals((float) Math.cos(1f), cs[0][p * pairs + 1], 1e-7); // pair 1: row * freq0
        assertEquals((float) Math.sin(2f * 0.01f), cs[1][p * pairs + 2], 1e-7);
        assertEquals((float) Math.sin(1f * 0.01f), cs[1][p * pairs + 3], 1e-7);
    }
}
