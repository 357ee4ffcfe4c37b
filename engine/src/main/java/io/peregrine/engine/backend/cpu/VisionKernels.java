package io.peregrine.engine.backend.cpu;

import static io.peregrine.engine.backend.cpu.VectorMath.F;
import static io.peregrine.engine.backend.cpu.VectorMath.L;

import jdk.incubator.vector.FloatVector;

/**
 * The vision tower's row-wise kernels (LayerNorm, GELU, pair rotation, segment attention) on fp32 rows. Where a
 * kernel has a Vector API path, {@code vector = false} runs its scalar twin: same arithmetic, summation in index
 * order.
 */
final class VisionKernels {
    private static final float SQRT_2_OVER_PI = (float) Math.sqrt(2.0 / Math.PI);
    private static final double SQRT_HALF = Math.sqrt(0.5);

    private VisionKernels() {}

    /** {@code nn.LayerNorm} of one row: mean, then the biased variance of the centred values, in fp32. */
    static void layerNorm(float[] x, int xOff, int n, float[] w, float[] b, float eps, float[] out, int outOff,
                          boolean vector) {
        float mean;
        float var;
        if (vector) {
            FloatVector acc = FloatVector.zero(F);
            int i = 0;
            for (int bound = F.loopBound(n); i < bound; i += L) {
                acc = acc.add(FloatVector.fromArray(F, x, xOff + i));
            }
            float s = VectorMath.sumLanes(acc);
            for (; i < n; i++) {
                s += x[xOff + i];
            }
            mean = s / n;
            FloatVector m = FloatVector.broadcast(F, mean);
            acc = FloatVector.zero(F);
            i = 0;
            for (int bound = F.loopBound(n); i < bound; i += L) {
                FloatVector d = FloatVector.fromArray(F, x, xOff + i).sub(m);
                acc = d.fma(d, acc);
            }
            float ss = VectorMath.sumLanes(acc);
            for (; i < n; i++) {
                float d = x[xOff + i] - mean;
                ss += d * d;
            }
            var = ss / n;
        } else {
            float s = 0;
            for (int i = 0; i < n; i++) {
                s += x[xOff + i];
            }
            mean = s / n;
            float ss = 0;
            for (int i = 0; i < n; i++) {
                float d = x[xOff + i] - mean;
                ss += d * d;
            }
            var = ss / n;
        }
        float inv = (float) (1.0 / Math.sqrt(var + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] - mean) * inv * w[i] + b[i];
        }
    }

    static void addBias(float[] bias, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += bias[i];
        }
    }

    static void geluTanh(float[] x, int xOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            float cube = v * v * v;
            float inner = SQRT_2_OVER_PI * (v + 0.044715f * cube);
            out[outOff + i] = 0.5f * v * (1f + (float) Math.tanh(inner));
        }
    }

    /** {@code 0.5·x·erfc(−x/√2)}: the same value as {@code 0.5·x·(1 + erf(x/√2))} without its cancellation for x ≪ 0. */
    static void geluErf(float[] x, int xOff, float[] out, int outOff, int n) {
        for (int i = 0; i < n; i++) {
            float v = x[xOff + i];
            out[outOff + i] = (float) (0.5 * v * erfc(-v * SQRT_HALF));
        }
    }

    /**
     * The complementary error function to a relative error below 1.2e-7 over the whole line (Numerical Recipes'
     * {@code erfcc}, a Chebyshev fit of {@code erfc(z)·exp(z²)}), evaluated in double: a few ulp of fp32, as
     * {@code erff} is. Hand-written because this is the inner loop of the projector's GELU and the JDK has no erf;
     * commons-math's goes through the incomplete gamma series, two orders slower.
     */
    static double erfc(double x) {
        double z = Math.abs(x);
        double t = 1.0 / (1.0 + 0.5 * z);
        double r = t * Math.exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
                + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
                + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2.0 - r;
    }

    /** Pairs {@code (x[off + 2i], x[off + 2i + 1])}, {@code i < pairs}, times {@code cos[i] + j·sin[i]}. */
    static void rotatePairs(float[] x, int off, float[] cos, int cosOff, float[] sin, int sinOff, int pairs) {
        for (int i = 0; i < pairs; i++) {
            float c = cos[cosOff + i];
            float s = sin[sinOff + i];
            float a = x[off + 2 * i];
            float b = x[off + 2 * i + 1];
            x[off + 2 * i] = a * c - b * s;
            x[off + 2 * i + 1] = a * s + b * c;
        }
    }

    /**
     * The row form, the plain twin {@link #attendPacked} is tested against. One query row {@code t}, head {@code h},
     * against keys and values {@code from .. to − 1}: fp32 scores,
     * max-subtracted softmax, {@code Σ p·v}. Rows are {@code stride}s apart, heads {@code headDim} columns apart.
     */
    static void attendSegment(float[] q, int qOff, int qStride, float[] k, int kOff, int kStride, float[] v, int vOff,
                              int vStride, int t, int h, int headDim, int from, int to, float scale, float[] out,
                              int outOff, int outStride, float[] scores, boolean vector) {
        int qa = qOff + t * qStride + h * headDim;
        int n = to - from;
        for (int s = 0; s < n; s++) {
            int ka = kOff + (from + s) * kStride + h * headDim;
            float d = vector ? VectorMath.dot(q, qa, k, ka, headDim) : VectorMath.dotScalar(q, qa, k, ka, headDim);
            scores[s] = d * scale;
        }
        AttentionKernels.softmaxInPlace(scores, n);
        int oa = outOff + t * outStride + h * headDim;
        java.util.Arrays.fill(out, oa, oa + headDim, 0f);
        for (int s = 0; s < n; s++) {
            int va = vOff + (from + s) * vStride + h * headDim;
            if (vector) {
                VectorMath.axpy(scores[s], v, va, out, oa, headDim);
            } else {
                VectorMath.axpyScalar(scores[s], v, va, out, oa, headDim);
            }
        }
    }

    /**
     * Head {@code h}'s keys and values of rows {@code from .. from + len − 1} transposed into {@code kt} and
     * {@code vt} at {@code off}: {@code kt[off + c·len + j] = k[from + j][h·headDim + c]}, so that the per-query loops
     * below run along the segment (long vectors) instead of along a head (72 floats, or 16 in the tiny model).
     */
    static void packSegment(float[] k, int kOff, int kStride, float[] v, int vOff, int vStride, int h, int headDim,
                            int from, int len, float[] kt, float[] vt, int off) {
        for (int j = 0; j < len; j++) {
            int ka = kOff + (from + j) * kStride + h * headDim;
            int va = vOff + (from + j) * vStride + h * headDim;
            for (int c = 0; c < headDim; c++) {
                kt[off + c * len + j] = k[ka + c];
                vt[off + c * len + j] = v[va + c];
            }
        }
    }

    /**
     * One query (head slice at {@code qa}) against a segment packed by {@link #packSegment}: scores accumulated
     * column by column of the head, fp32 max-subtracted softmax, then each output column as one dot over the segment.
     */
    static void attendPacked(float[] q, int qa, float[] kt, float[] vt, int off, int len, int headDim, float scale,
                             float[] out, int oa, float[] scores, boolean vector) {
        int j = 0;
        if (vector) {
            // a register of keys at a time, summed over the head's columns: the packed keys are read once per query
            for (int bound = F.loopBound(len); j < bound; j += L) {
                FloatVector acc = FloatVector.zero(F);
                for (int c = 0; c < headDim; c++) {
                    acc = FloatVector.fromArray(F, kt, off + c * len + j).fma(FloatVector.broadcast(F, q[qa + c]), acc);
                }
                acc.intoArray(scores, j);
            }
        }
        for (; j < len; j++) {
            float acc = 0f;
            for (int c = 0; c < headDim; c++) {
                acc = Math.fma(kt[off + c * len + j], q[qa + c], acc);
            }
            scores[j] = acc;
        }
        for (j = 0; j < len; j++) {
            scores[j] *= scale;
        }
        AttentionKernels.softmaxInPlace(scores, len);
        for (int c = 0; c < headDim; c++) {
            out[oa + c] = vector ? VectorMath.dot(scores, 0, vt, off + c * len, len)
                    : VectorMath.dotScalar(scores, 0, vt, off + c * len, len);
        }
    }
}
