package io.peregrine.engine.runtime;

/**
 * A per-choice rule on which token may come next (constrained decoding). The engine asks it to {@link #mask} a
 * copy of the model's logits before penalties and sampling (greedy and random alike), then tells it the token
 * that was chosen. To force a token, a constraint masks every other one. One instance per choice, used only on
 * the engine thread; preemption keeps it (the choice's tokens are recomputed, not re-chosen).
 *
 * <p>Logprobs of a constrained choice are those of the constrained distribution: the raw logits with the
 * masked tokens removed and the rest renormalised. A forced token therefore reports logprob 0 and only allowed
 * tokens are listed as alternatives, so the reported distribution is the one the token was drawn from.
 */
public interface TokenConstraint {

    /** Sets every token that may not come next to negative infinity, in place; leaves at least one allowed. */
    void mask(float[] logits);

    /**
     * Advances past the chosen token.
     *
     * @throws IllegalStateException when {@code tokenId} was not allowed (a bug: the sampler picked a masked token)
     */
    void accept(int tokenId);

    /**
     * An independent copy in the current state: speculative decoding advances it over a choice's draft tokens to
     * mask each draft position as plain decoding would mask it there, leaving this one as it is. null when the
     * constraint cannot be copied; its choice then decodes without speculation.
     */
    default TokenConstraint copy() {
        return null;
    }

    /** Makes the constraint of each choice of a request ({@code n > 1}: one each, in their own state). */
    @FunctionalInterface
    interface Factory {
        TokenConstraint forChoice(int choiceIndex);
    }
}
