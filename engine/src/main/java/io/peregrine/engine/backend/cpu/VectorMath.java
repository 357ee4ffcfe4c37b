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
     *
     * <p>Each step is one permute by a constant shuffle ({@link #UP8} ..: lane {@code i} gets lane {@code i + h})
     * and one add. Tried: {@code v.slice(h)} (blend, compare and permute per step, and not always intrinsified when
     * {@code h} is a loop variable: 13-300 ns a call, in the one-token kernels' profile next to the row dots) and
     * {@code reinterpretShape} to half-width vectors (its second half fell back to a masked memory round trip).
     */
    static float sumLanes(FloatVector v) {
        if (L > 16) {
            for (int h = L / 2; h > 0; h >>= 1) {
                v = v.add(v.slice(h));
            }
            return v.lane(0);
        }
        if (L == 16) {
            v = v.add(v.rearrange(UP8));
        }
        if (L >= 8) {
            v = v.add(v.rearrange(UP4));
        }
        v = v.add(v.rearrange(UP2));
        v = v.add(v.rearrange(UP1));
        return v.lane(0);
    }

    /** Lane {@code i} from lane {@code (i + h) mod L}; the wrapped lanes are never read. Constants, so C2 permutes. */
    private static final VectorShuffle<Float> UP8 = VectorShuffle.fromOp(F, i -> (i + 8) % L);
    private static final VectorShuffle<Float> UP4 = VectorShuffle.fromOp(F, i -> (i + 4) % L);
    private static final VectorShuffle<Float> UP2 = VectorShuffle.fromOp(F, i -> (i + 2) % L);
    private static final VectorShuffle<Float> UP1 = VectorShuffle.fromOp(F, i -> (i + 1) % L);

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

    /**
     * {@code out = silu(gate) ⊙ up} with {@link #exp(FloatVector)}, an exp made of exactly rounded operations only
     * (min/max, fma, add, mul, integer shifts), so the vector form gives its scalar twin's bits whether the JIT has
     * compiled it or not. The Vector API's {@code lanewise(EXP)} is SVML's float exp under C2 and {@code Math.exp}
     * per lane before, which differ in the last bit (1 lane in ~1,000): a product downstream — and a seeded request's
     * token — depended on how warm the JVM was (two batch-invariant engines in one JVM disagreed by 3e-6 in
     * logprobs). Within 1.25 ulp of the true exp; ~0.7 ns an element (the scalar {@code Math.exp} form took 6.8).
     */
    static void siluMul(float[] gate, int gOff, float[] up, int uOff, float[] out, int oOff, int n) {
        FloatVector one = FloatVector.broadcast(F, 1f);
        int i = 0;
        for (int bound = F.loopBound(n); i < bound; i += L) {
            FloatVector g = FloatVector.fromArray(F, gate, gOff + i);
            FloatVector sig = one.div(exp(g.neg()).add(one));
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
        return z * (1f / (exp(-z) + 1f));
    }

    // exp(x) = 2^k · e^r, k = round(x·log2 e), r = x − k·ln 2 (Cody–Waite, ln 2 in two parts), e^r by its Taylor
    // series to r⁷ (|r| ≤ ln 2 / 2: truncation 5e-9 relative); x clamped so that 2^k stays a normal float.
    private static final float EXP_LO = -87.3f;
    private static final float EXP_HI = 88.3f;
    private static final float LOG2E = 1.44269504f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5·2²³: adding it rounds to an integer held in the low mantissa bits. */
    private static final float ROUND = 12582912f;
    private static final int ROUND_BITS = Float.floatToRawIntBits(ROUND);

    /** The scalar twin of {@link #exp(FloatVector)}: the same operations in the same order. */
    static float exp(float x) {
        x = Math.min(Math.max(x, EXP_LO), EXP_HI);
        float t = Math.fma(x, LOG2E, ROUND);
        float k = t - ROUND;
        int ki = Float.floatToRawIntBits(t) - ROUND_BITS;
        float r = Math.fma(-k, LN2_HI, x);
        r = Math.fma(-k, LN2_LO, r);
        float p = Math.fma(1f / 5040, r, 1f / 720);
        p = Math.fma(p, r, 1f / 120);
        p = Math.fma(p, r, 1f / 24);
        p = Math.fma(p, r, 1f / 6);
        p = Math.fma(p, r, 0.5f);
        p = Math.fma(p, r * r, r + 1f);
        return p * Float.intBitsToFloat((ki + 127) << 23);
    }

    static FloatVector exp(FloatVector x) {
        x = x.max(EXP_LO).min(EXP_HI);
        FloatVector t = x.fma(FloatVector.broadcast(F, LOG2E), FloatVector.broadcast(F, ROUND));
        FloatVector nk = t.sub(ROUND).neg();
        IntVector ki = ((IntVector) t.reinterpretAsInts()).sub(ROUND_BITS);
        FloatVector r = nk.fma(FloatVector.broadcast(F, LN2_HI), x);
        r = nk.fma(FloatVector.broadcast(F, LN2_LO), r);
        FloatVector p = FloatVector.broadcast(F, 1f / 5040).fma(r, FloatVector.broadcast(F, 1f / 720));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 120));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 24));
        p = p.fma(r, FloatVector.broadcast(F, 1f / 6));
        p = p.fma(r, FloatVector.broadcast(F, 0.5f));
        p = p.fma(r.mul(r), r.add(1f));
        return p.mul(ki.add(127).lanewise(VectorOperators.LSHL, 23).reinterpretAsFloats());
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
