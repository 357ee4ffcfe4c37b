package io.peregrine.engine.constrain;

import io.peregrine.engine.runtime.TokenConstraint;

/**
 * Two constraints on one choice (a thinking budget and a tool_choice rule): both mask the logits, in order, and
 * both see every chosen token. The second's mask is applied last, so when their allowed sets could be disjoint the
 * second must be the one that forces (as {@link ThinkingBudget} forces {@code </think>}, which a tool rule allows
 * while reasoning).
 */
public final class ConstraintChain implements TokenConstraint {
    private final TokenConstraint first;
    private final TokenConstraint second;

    private ConstraintChain(TokenConstraint first, TokenConstraint second) {
        this.first = first;
        this.second = second;
    }

    /** Both factories' constraints per choice; either may be null (then the other alone, or null). */
    public static TokenConstraint.Factory of(TokenConstraint.Factory first, TokenConstraint.Factory second) {
        if (first == null) {
            return second;
        }
        if (second == null) {
            return first;
        }
        return choice -> new ConstraintChain(first.forChoice(choice), second.forChoice(choice));
    }

    @Override
    public TokenConstraint copy() {
        TokenConstraint a = first.copy();
        TokenConstraint b = second.copy();
        return a == null || b == null ? null : new ConstraintChain(a, b);
    }

    @Override
    public void mask(float[] logits) {
        first.mask(logits);
        second.mask(logits);
    }

    @Override
    public void accept(int tokenId) {
        first.accept(tokenId);
        second.accept(tokenId);
    }
}
