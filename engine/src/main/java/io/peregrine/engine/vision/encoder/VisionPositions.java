package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.vision.GridThw;

/**
 * The shape-dependent inputs of the tower, computed in Java and fed to the ONNX graph: the position embedding
 * (bicubic-interpolated learnable table plus the temporal sin/cos term) and the 2-D RoPE cos/sin tables.
 */
public final class VisionPositions {
    private static final float CUBIC_A = -0.75f; // PyTorch's bicubic coefficient (PIL uses -0.5)

    private VisionPositions() {}

    /**
     * Position embedding for every patch, [t*h*w, dim]: the [tableH, tableW, dim] table resized to (h, w) like
     * {@code F.interpolate(mode="bicubic", align_corners=False)} unless the sizes match, repeated per frame, plus
     * {@code time_weight[f]} for frame f when t > 1.
     */
    public static float[] posEmbedding(float[] table, int tableH, int tableW, int dim, GridThw grid) {
        int h = grid.h();
        int w = grid.w();
        float[] spatial;
        if (h == tableH && w == tableW) {
            spatial = table;
        } else {
            spatial = interpolateBicubic(table, tableH, tableW, dim, h, w);
        }
        int hw = h * w;
        float[] out = new float[grid.t() * hw * dim];
        for (int f = 0; f < grid.t(); f++) {
            System.arraycopy(spatial, 0, out, f * hw * dim, hw * dim);
        }
        if (grid.t() > 1) {
            float[] time = temporalSinCos(dim, grid.t());
            for (int f = 0; f < grid.t(); f++) {
                for (int p = 0; p < hw; p++) {
                    int base = (f * hw + p) * dim;
                    for (int c = 0; c < dim; c++) {
                        out[base + c] += time[f * dim + c];
                    }
                }
            }
        }
        return out;
    }

    /**
     * PyTorch's CPU {@code upsample_bicubic2d} (align_corners=False, A = -0.75, border-clamped taps), in float.
     * Torch sums the four x-taps of each of the four source rows, then weighs the rows; doing all x-taps first
     * for every row is the same arithmetic, in O(dim) per tap instead of O(16 dim) per output.
     */
    static float[] interpolateBicubic(float[] table, int inH, int inW, int dim, int outH, int outW) {
        int[][] xIdx = new int[outW][4];
        float[][] xW = new float[outW][4];
        taps(inW, outW, xIdx, xW);
        int[][] yIdx = new int[outH][4];
        float[][] yW = new float[outH][4];
        taps(inH, outH, yIdx, yW);
        float[] rows = new float[inH * outW * dim];
        for (int r = 0; r < inH; r++) {
            for (int ox = 0; ox < outW; ox++) {
                int o = (r * outW + ox) * dim;
                for (int c = 0; c < dim; c++) {
                    float s = 0f;
                    for (int j = 0; j < 4; j++) {
                        s += xW[ox][j] * table[(r * inW + xIdx[ox][j]) * dim + c];
                    }
                    rows[o + c] = s;
                }
            }
        }
        float[] out = new float[outH * outW * dim];
        for (int oy = 0; oy < outH; oy++) {
            for (int ox = 0; ox < outW; ox++) {
                int o = (oy * outW + ox) * dim;
                for (int c = 0; c < dim; c++) {
                    float s = 0f;
                    for (int i = 0; i < 4; i++) {
                        s += yW[oy][i] * rows[(yIdx[oy][i] * outW + ox) * dim + c];
                    }
                    out[o + c] = s;
                }
            }
        }
        return out;
    }

    private static void taps(int in, int out, int[][] idx, float[][] weights) {
        float scale = (float) in / out;
        for (int o = 0; o < out; o++) {
            float src = scale * (o + 0.5f) - 0.5f;
            int i0 = (int) Math.floor(src);
            float t = src - i0;
            weights[o][0] = cubicFar(t + 1f);
            weights[o][1] = cubicNear(t);
            weights[o][2] = cubicNear(1f - t);
            weights[o][3] = cubicFar(2f - t);
            for (int k = 0; k < 4; k++) {
                idx[o][k] = Math.min(Math.max(i0 - 1 + k, 0), in - 1);
            }
        }
    }

    private static float cubicNear(float x) {
        return ((CUBIC_A + 2f) * x - (CUBIC_A + 3f)) * x * x + 1f;
    }

    private static float cubicFar(float x) {
        return ((CUBIC_A * x - 5f * CUBIC_A) * x + 8f * CUBIC_A) * x - 4f * CUBIC_A;
    }

    /**
     * {@code get_1d_sincos_pos_embed(dim, t)} of the reference (numpy float64, then float32): row f is
     * [sin(f*w_0..w_{d/2-1}), cos(f*w_0..)], w_j = 10000^(-j/(d/2)).
     */
    static float[] temporalSinCos(int dim, int frames) {
        int half = dim / 2;
        float[] out = new float[frames * dim];
        for (int f = 0; f < frames; f++) {
            for (int j = 0; j < half; j++) {
                double omega = 1.0 / Math.pow(10000.0, (double) j / half);
                double a = f * omega;
                out[f * dim + j] = (float) Math.sin(a);
                out[f * dim + half + j] = (float) Math.cos(a);
            }
        }
        return out;
    }

    /**
     * 2-D RoPE angles as [cos | sin] tables of [t*h*w, headDim/2]: complex pair 2i turns by column * freq_i,
     * pair 2i+1 by row * freq_i, freq_i = 10000^(-4i/headDim) (float32, as the reference builds them). Every
     * frame repeats the same (row, column) table.
     */
    public static float[][] rope(int headDim, GridThw grid) {
        int pairs = headDim / 2;
        float[] freqs = new float[headDim / 4];
        for (int i = 0; i < freqs.length; i++) {
            float exponent = (4f * i) / headDim;
            freqs[i] = 1f / (float) Math.pow(10000f, exponent);
        }
        int hw = grid.h() * grid.w();
        float[] cos = new float[grid.t() * hw * pairs];
        float[] sin = new float[cos.length];
        for (int r = 0; r < grid.h(); r++) {
            for (int c = 0; c < grid.w(); c++) {
                int base = (r * grid.w() + c) * pairs;
                for (int j = 0; j < pairs; j++) {
                    float angle = (j % 2 == 0 ? c : r) * freqs[j / 2];
                    cos[base + j] = (float) Math.cos(angle);
                    sin[base + j] = (float) Math.sin(angle);
                }
            }
        }
        for (int f = 1; f < grid.t(); f++) {
            System.arraycopy(cos, 0, cos, f * hw * pairs, hw * pairs);
            System.arraycopy(sin, 0, sin, f * hw * pairs, hw * pairs);
        }
        return new float[][] {cos, sin};
    }
}
