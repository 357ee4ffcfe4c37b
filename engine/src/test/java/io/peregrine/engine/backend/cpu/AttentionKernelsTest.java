package io.peregrine.engine.backend.cpu;

import io.peregrine.engine.backend.HostIndices;
import io.peregrine.engine.backend.HostTensor;

import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Both MLA forms through the backend against the scalar twins, and against each other: keys and values are
 * built from random latents and per-head up-projections, so the naive form (expanded k/v) and the absorbed
 * form (attention in latent space) must agree.
 */
class AttentionKernelsTest {
    private static final CpuBackend BACKEND = new CpuBackend(3);

    @AfterAll
    static void close() {
        BACKEND.close();
    }

    @ParameterizedTest
    @CsvSource({"1,1,8,4,8,4,0", "3,5,16,8,16,8,2", "4,7,32,8,16,16,9", "2,3,40,6,24,10,30"})
    void naiveAndAbsorbedFormsAgreeAndEqualScalar(int heads, int tokens, int rank, int rope, int nope, int vDim,
                                                  int startPos) {
        Random rnd = new Random(heads * 1000L + tokens * 10L + startPos);
        int positions = startPos + tokens;
        int width = rank + rope;
        float scale = 0.37f;
        // latent cache with scattered slots
        int[] slots = new int[positions];
        for (int p = 0; p < positions; p++) {
            slots[p] = (p * 7 + 3) % (positions + 5);
        }
        float[] slab = RandomWeights.floats(rnd, (positions + 5) * width);
        // per-head up-projections W_UK [nope x rank], W_UV [vDim x rank]
        float[] wuk = RandomWeights.floats(rnd, heads * nope * rank);
        float[] wuv = RandomWeights.floats(rnd, heads * vDim * rank);
        float[] q = RandomWeights.floats(rnd, tokens * heads * (nope + rope));
        float[] kv = new float[positions * heads * (nope + vDim)];
        float[] kPe = new float[positions * rope];
        for (int p = 0; p < positions; p++) {
            System.arraycopy(slab, slots[p] * width + rank, kPe, p * rope, rope);
            for (int h = 0; h < heads; h++) {
                for (int d = 0; d < nope; d++) {
                    kv[(p * heads + h) * (nope + vDim) + d] = VectorMath.dotScalar(wuk, (h * nope + d) * rank, slab, slots[p] * width, rank);
                }
                for (int d = 0; d < vDim; d++) {
                    kv[(p * heads + h) * (nope + vDim) + nope + d] = VectorMath.dotScalar(wuv, (h * vDim + d) * rank, slab, slots[p] * width, rank);
                }
            }
        }
        float[] naive = new float[tokens * heads * vDim];
        BACKEND.attentionNaive(new HostTensor(q, 0, tokens, heads * (nope + rope), heads * (nope + rope)), startPos,
                new HostTensor(kv, 0, positions, heads * (nope + vDim), heads * (nope + vDim)),
                new HostTensor(kPe, 0, positions, rope, rope), heads, nope, rope, vDim, scale,
                new HostTensor(naive, 0, tokens, heads * vDim, heads * vDim));
        float[] naiveScalar = new float[naive.length];
        float[] scores = new float[positions];
        for (int t = 0; t < tokens; t++) {
            for (int h = 0; h < heads; h++) {
                AttentionKernels.naive(q, t, h, startPos, kv, kPe, heads, nope, rope, vDim, scale, naiveScalar, scores, false);
            }
        }
        float[] vMag = new float[naive.length];
        java.util.Arrays.fill(vMag, maxAbs(kv));
        Close.assertClose(naiveScalar, naive, vMag, "naive vs scalar");

        // absorbed, one token at a time over its causal prefix
        float[] absorbed = new float[naive.length];
        for (int t = 0; t < tokens; t++) {
            float[] qLat = new float[heads * rank];
            for (int h = 0; h < heads; h++) {
                for (int d = 0; d < nope; d++) {
                    VectorMath.axpyScalar(q[(t * heads + h) * (nope + rope) + d], wuk, (h * nope + d) * rank, qLat, h * rank, rank);
                }
            }
            int count = startPos + t + 1;
            float[] oLat = new float[heads * rank];
            BACKEND.attentionAbsorbed(new HostTensor(qLat, 0, 1, heads * rank, heads * rank),
                    new HostTensor(q, t * heads * (nope + rope) + nope, 1, heads * (nope + rope) - nope, heads * (nope + rope)),
                    nope + rope, heads, new HostTensor(slab, 0, positions + 5, width, width),
                    new HostIndices(slots, 0, positions), new HostIndices(new int[] {0, count}, 0, 2), scale,
                    new HostTensor(oLat, 0, 1, heads * rank, heads * rank));
            float[] oLatScalar = new float[heads * rank];
            float[] sc = new float[count];
            for (int h = 0; h < heads; h++) {
                AttentionKernels.absorbed(qLat, 0, q, t * heads * (nope + rope) + nope, nope + rope, h, rank, rope, slab,
                        slots, count, scale, oLatScalar, 0, sc, false);
            }
            float[] lMag = new float[oLat.length];
            java.util.Arrays.fill(lMag, maxAbs(slab));
            Close.assertClose(oLatScalar, oLat, lMag, "absorbed vs scalar");
            for (int h = 0; h < heads; h++) {
                for (int d = 0; d < vDim; d++) {
                    absorbed[(t * heads + h) * vDim + d] = VectorMath.dotScalar(wuv, (h * vDim + d) * rank, oLat, h * rank, rank);
                }
            }
        }
        float[] mag = new float[naive.length];
        java.util.Arrays.fill(mag, 10 * rank * maxAbs(slab) * maxAbs(wuv));
        Close.assertClose(naive, absorbed, mag, "absorbed vs naive");
    }

    private static float maxAbs(float[] x) {
        float m = 0;
        for (float v : x) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
