package io.peregrine.engine.runtime;

import io.peregrine.engine.sample.SamplingBatch;
import java.util.Arrays;

/**
 * A constraint's allowed next tokens as the sampler's packed bitmask: what it masks in a row of zero logits, read
 * back. Masks do not depend on the logits (a forced token stays allowed whatever its logit), so they can be made
 * ahead of sampling, for draft positions too. Engine thread only; holds the scratch row.
 */
final class ConstraintMasks {
    private final int vocab;
    private final float[] scratch;

    ConstraintMasks(int vocab) {
        this.vocab = vocab;
        this.scratch = new float[vocab];
    }

    /**
     * The tokens {@code c} allows next, written into {@code bits} (made when null) and returned.
     *
     * @throws IllegalStateException when it allows none
     */
    long[] allowed(TokenConstraint c, long[] bits) {
        Arrays.fill(scratch, 0f);
        c.mask(scratch);
        if (bits == null) {
            bits = SamplingBatch.mask(vocab);
        }
        Arrays.fill(bits, 0L);
        boolean any = false;
        for (int t = 0; t < vocab; t++) {
            if (scratch[t] != Float.NEGATIVE_INFINITY) {
                bits[t >>> 6] |= 1L << t;
                any = true;
            }
        }
        if (!any) {
            throw new IllegalStateException("the token constraint allows no token");
        }
        return bits;
    }
}
