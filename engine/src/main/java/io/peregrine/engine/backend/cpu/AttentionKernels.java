package io.peregrine.engine.backend.cpu;

/**
 * MLA attention on fp32 rows, one (token, head) pair per call so the backend can spread pairs over threads.
 * {@code vector} picks the Vector API dot/axpy or their scalar twins; everything else is shared, so the two
 * paths differ only in summation order.
 */
final class AttentionKernels {
    private AttentionKernels() {}

    /** Naive form for token {@code t}, head {@code h} over dense rows; {@code scores} holds {@code startPos + t + 1} floats. */
    static void naive(float[] q, int t, int h, int startPos, float[] kv, float[] kPe, int heads, int nope, int rope,
                      int vDim, float scale, float[] out, float[] scores, boolean vector) {
        naive(q, 0, t, h, startPos, kv, 0, kPe, 0, rope, heads, nope, rope, vDim, scale, out, 0, scores, vector);
    }

    /**
     * Naive form with the arrays' bases: query rows from {@code qBase}, key/value rows from {@code kvBase} (dense),
     * rope keys every {@code kPeStride} floats from {@code kPeBase}, output rows from {@code outBase}.
     */
    static void naive(float[] q, int qBase, int t, int h, int startPos, float[] kv, int kvBase, float[] kPe,
                      int kPeBase, int kPeStride, int heads, int nope, int rope, int vDim, float scale, float[] out,
                      int outBase, float[] scores, boolean vector) {
        int qk = nope + rope;
        int qOff = qBase + (t * heads + h) * qk;
        int kvStride = heads * (nope + vDim);
        int n = startPos + t + 1;
        for (int s = 0; s < n; s++) {
            int kOff = kvBase + s * kvStride + h * (nope + vDim);
            int pOff = kPeBase + s * kPeStride;
            float d = vector
                    ? VectorMath.dot(q, qOff, kv, kOff, nope) + VectorMath.dot(q, qOff + nope, kPe, pOff, rope)
                    : VectorMath.dotScalar(q, qOff, kv, kOff, nope) + VectorMath.dotScalar(q, qOff + nope, kPe, pOff, rope);
            scores[s] = d * scale;
        }
        softmaxInPlace(scores, n);
        int oOff = outBase + (t * heads + h) * vDim;
        java.util.Arrays.fill(out, oOff, oOff + vDim, 0f);
        for (int s = 0; s < n; s++) {
            int vOff = kvBase + s * kvStride + h * (nope + vDim) + nope;
            if (vector) {
                VectorMath.axpy(scores[s], kv, vOff, out, oOff, vDim);
            } else {
                VectorMath.axpyScalar(scores[s], kv, vOff, out, oOff, vDim);
            }
        }
    }

    /** Absorbed form for head {@code h} of one query over {@code count} cached slots. */
    static void absorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int h, int kvRank,
                         int rope, float[] slab, int[] slots, int count, float scale, float[] outLat, int outOff,
                         float[] scores, boolean vector) {
        absorbed(qLat, qLatOff, qPe, qPeOff, qPeStride, h, kvRank, rope, slab, 0, kvRank + rope, slots, 0, count, scale,
                outLat, outOff, scores, vector);
    }

    /**
     * Absorbed form with the slab's base and row stride and the first of the {@code count} slots at
     * {@code slotsOff}.
     */
    static void absorbed(float[] qLat, int qLatOff, float[] qPe, int qPeOff, int qPeStride, int h, int kvRank,
                         int rope, float[] slab, int slabBase, int width, int[] slots, int slotsOff, int count,
                         float scale, float[] outLat, int outOff, float[] scores, boolean vector) {
        int ql = qLatOff + h * kvRank;
        int qp = qPeOff + h * qPeStride;
        for (int s = 0; s < count; s++) {
            int base = slabBase + slots[slotsOff + s] * width;
            float d = vector
                    ? VectorMath.dot(qLat, ql, slab, base, kvRank) + VectorMath.dot(qPe, qp, slab, base + kvRank, rope)
                    : VectorMath.dotScalar(qLat, ql, slab, base, kvRank) + VectorMath.dotScalar(qPe, qp, slab, base + kvRank, rope);
            scores[s] = d * scale;
        }
        softmaxInPlace(scores, count);
        int o = outOff + h * kvRank;
        java.util.Arrays.fill(outLat, o, o + kvRank, 0f);
        for (int s = 0; s < count; s++) {
            if (vector) {
                VectorMath.axpy(scores[s], slab, slabBase + slots[slotsOff + s] * width, outLat, o, kvRank);
            } else {
                VectorMath.axpyScalar(scores[s], slab, slabBase + slots[slotsOff + s] * width, outLat, o, kvRank);
            }
        }
    }

    /** fp32 softmax with the maximum subtracted first. */
    static void softmaxInPlace(float[] x, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, x[i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(x[i] - max);
            x[i] = e;
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) {
            x[i] *= inv;
        }
    }
}
