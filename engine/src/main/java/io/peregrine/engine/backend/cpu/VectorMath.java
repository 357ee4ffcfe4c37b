package io.peregrine.engine.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Element-wise and reduction kernels on fp32 rows (dot, axpy, RMSNorm, SwiGLU), each in a Vector API form and
 * a plain scalar twin that the tests hold it to. Also the species every CPU kernel shares.
 */
final class VectorMath {
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final VectorSpecies<Integer> I = VectorSpecies.of(int.class, F.vectorShape());
    /** Half-width shorts: one load of BF16 bits widens to exactly one float vector. */
    static final VectorSpecies<Short> S = VectorSpecies.of(short.class, VectorShape.forBitSize(F.vectorBitSize() / 2));
    static final int L = F.length();

    private VectorMath() {}

    /** BF16 bits (sign-extended or not: the shift drops the upper half) to a float vector. */
    static FloatVector widenBf16(ShortVector bits) {
        return ((IntVector) bits.convertShape(VectorOperators.S2I, I, 0)).lanewise(VectorOperators.LSHL, 16)
                .reinterpretAsFloats();
    }

    /**
     * The sum of a vector's lanes in one fixed order: lane {@code i} plus lane {@code i + h} for h = L/2, L/4, .., 1.
     * {@code reduceLanes(ADD)} leaves the order to the implementation, and C2's intrinsic and the interpreter's
     * fallback do differ, so a product came out different in its last bits before and after the JIT compiled its
     * kernel — and a seeded request could sample another token depending on how warm the JVM was.
     */
    static float sumLanes(FloatVector v) {
        // rotations by constant shuffles (one permute each) instead of slice(h), which boxes a fresh vector per call
        // where C2 does not intrinsify it (512-bit vectors): lane i + lane i+h for i < h, the same order
        for (int k = 0; k < HALVES.length; k++) {
            v = v.add(v.rearrange(HALVES[k]));
        }
        return v.lane(0);
    }

    /** Rotations by L/2, L/4, .., 1 lanes. */
    @SuppressWarnings("unchecked")
    private static final VectorShuffle<Float>[] HALVES = halves();

    @SuppressWarnings("unchecked")
    private static VectorShuffle<Float>[] halves() {
        int n = Integer.numberOfTrailingZeros(L);
        VectorShuffle<Float>[] s = new VectorShuffle[n];
        for (int k = 0, h = L / 2; h > 0; k++, h >>= 1) {
            s[k] = VectorShuffle.iota(F, h, 1, true);
        }
        return s;
    }

    static float dot(float[] a, int aOff, float[] b, int bOff, int n) {
        FloatVector acc = FloatVector.zero(F);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            acc = FloatVector.fromArray(F, a, aOff + i).fma(FloatVector.fromArray(F, b, bOff + i), acc);
        }
        float s = sumLanes(acc);
        for (; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    static float dotScalar(float[] a, int aOff, float[] b, int bOff, int n) {
        float s = 0;
        for (int i = 0; i < n; i++) {
            s += a[aOff + i] * b[bOff + i];
        }
        return s;
    }

    static void axpy(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        FloatVector a = FloatVector.broadcast(F, alpha);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, xOff + i).fma(a, FloatVector.fromArray(F, y, yOff + i)).intoArray(y, yOff + i);
        }
        for (; i < n; i++) {
            y[yOff + i] = Math.fma(alpha, x[xOff + i], y[yOff + i]);
        }
    }

    static void axpyScalar(float alpha, float[] x, int xOff, float[] y, int yOff, int n) {
        for (int i = 0; i < n; i++) {
            y[yOff + i] += alpha * x[xOff + i];
        }
    }

    static void rmsNorm(float[] x, int xOff, int n, float[] w, float eps, float[] out, int outOff) {
        float ss = dot(x, xOff, x, xOff, n);
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        FloatVector vi = FloatVector.broadcast(F, inv);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F, x, xOff + i).mul(vi).mul(FloatVector.fromArray(F, w, i)).intoArray(out, outOff + i);
        }
        for (; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * inv) * w[i];
        }
    }

    static void rmsNormScalar(float[] x, int xOff, int n, float[] w, float eps, float[] out, int outOff) {
        float ss = 0;
        for (int i = 0; i < n; i++) {
            ss += x[xOff + i] * x[xOff + i];
        }
        float inv = (float) (1.0 / Math.sqrt(ss / n + eps));
        for (int i = 0; i < n; i++) {
            out[outOff + i] = (x[xOff + i] * inv) * w[i];
        }
    }

    static void siluMul(float[] gate, float[] up, float[] out, int n) {
        siluMul(gate, 0, up, 0, out, 0, n);
    }

    static void siluMul(float[] gate, int gOff, float[] up, int uOff, float[] out, int oOff, int n) {
        FloatVector one = FloatVector.broadcast(F, 1f);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, gOff + i);
            FloatVector sig = one.div(g.neg().lanewise(VectorOperators.EXP).add(one));
            g.mul(sig).mul(FloatVector.fromArray(F, up, uOff + i)).intoArray(out, oOff + i);
        }
        for (; i < n; i++) {
            out[oOff + i] = silu(gate[gOff + i]) * up[uOff + i];
        }
    }

    static void siluMulScalar(float[] gate, float[] up, float[] out, int n) {
        for (int i = 0; i < n; i++) {
            out[i] = silu(gate[i]) * up[i];
        }
    }

    static float silu(float z) {
        return (float) (z / (1.0 + Math.exp(-z)));
    }

    /** Interleaved-pair rotation; 32 pairs per head is too short for vectors to pay, so this is scalar only. */
    static void ropeInterleaved(float[] x, int off, int pos, float[] invFreq, float mscale) {
        ropeInterleaved(x, off, pos, invFreq, invFreq.length, mscale);
    }

    static void ropeInterleaved(float[] x, int off, int pos, float[] invFreq, int pairs, float mscale) {
        for (int i = 0; i < pairs; i++) {
            float angle = pos * invFreq[i];
            float c = (float) Math.cos(angle) * mscale;
            float s = (float) Math.sin(angle) * mscale;
            float a = x[off + 2 * i];
            float b = x[off + 2 * i + 1];
            x[off + 2 * i] = a * c - b * s;
            x[off + 2 * i + 1] = a * s + b * c;
        }
    }
}
