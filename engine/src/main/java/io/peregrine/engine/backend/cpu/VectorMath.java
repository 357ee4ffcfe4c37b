package io.peregrine.engine.backend.cpu;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
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
     *
     * <p>The halves are taken by reinterpreting the vector as two of half the width (one extract and one add per
     * step); {@code v.slice(h)} with the step in a loop variable, the first form, was not always intrinsified and
     * cost 13-300 ns a call instead of 2 — more than the rest of a 2048-column row dot in the one-token kernels.
     */
    static float sumLanes(FloatVector v) {
        return switch (L) {
            case 16 -> sum4(halves(halves(v, F256), F128));
            case 8 -> sum4(halves(v, F128));
            case 4 -> sum4(v);
            default -> sumLanesBySlicing(v);
        };
    }

    private static final VectorSpecies<Float> F256 = FloatVector.SPECIES_256;
    private static final VectorSpecies<Float> F128 = FloatVector.SPECIES_128;

    /** Lane {@code i} plus lane {@code i + length/2}, as a vector of half the width. */
    private static FloatVector halves(FloatVector v, VectorSpecies<Float> half) {
        return ((FloatVector) v.reinterpretShape(half, 0)).add((FloatVector) v.reinterpretShape(half, 1));
    }

    private static float sum4(FloatVector q) {
        return (q.lane(0) + q.lane(2)) + (q.lane(1) + q.lane(3));
    }

    private static float sumLanesBySlicing(FloatVector v) {
        for (int h = L / 2; h > 0; h >>= 1) {
            v = v.add(v.slice(h));
        }
        return v.lane(0);
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
        FloatVector one = FloatVector.broadcast(F, 1f);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, i);
            FloatVector sig = one.div(g.neg().lanewise(VectorOperators.EXP).add(one));
            g.mul(sig).mul(FloatVector.fromArray(F, up, i)).intoArray(out, i);
        }
        for (; i < n; i++) {
            out[i] = silu(gate[i]) * up[i];
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
        for (int i = 0; i < invFreq.length; i++) {
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
