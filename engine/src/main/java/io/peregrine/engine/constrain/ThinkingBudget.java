package io.peregrine.engine.constrain;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import java.util.Arrays;

/**
 * Caps the reasoning of a thinking-mode choice (chat's {@code thinking_token_budget}, Anthropic's
 * {@code thinking.budget_tokens}): the prompt ends with {@code <think>}; once {@code budget} tokens of reasoning
 * have been generated, {@code </think>} is forced, so the answer starts instead of the reasoning running on to
 * max_tokens. Reasoning ends early at {@code </think>}, at
 * an implicit end ({@code <|tool_calls_section_begin|>}) or at the end of the message, as for the output parser;
 * after that nothing is constrained. {@code </think>} itself is not counted.
 */
public final class ThinkingBudget implements TokenConstraint {
    private final MarkerIds m;
    private final int budget;
    private int spent;
    private boolean reasoning = true;

    private ThinkingBudget(MarkerIds m, int budget) {
        this.m = m;
        this.budget = budget;
    }

    /** @param budget reasoning tokens allowed before {@code </think>} is forced; at least 1 */
    public static TokenConstraint.Factory factory(MarkerIds markers, int budget) {
        if (budget < 1) {
            throw new IllegalArgumentException("a thinking budget must be at least 1 token, got " + budget);
        }
        return choice -> new ThinkingBudget(markers, budget);
    }

    @Override
    public ThinkingBudget copy() {
        ThinkingBudget c = new ThinkingBudget(m, budget);
        c.spent = spent;
        c.reasoning = reasoning;
        return c;
    }

    @Override
    public void mask(float[] logits) {
        if (reasoning && spent >= budget) {
            float keep = logits[m.thinkEnd()];
            Arrays.fill(logits, Float.NEGATIVE_INFINITY);
            // A masked logit (another constraint's) stays allowed here: forcing </think> must leave one token.
            logits[m.thinkEnd()] = keep == Float.NEGATIVE_INFINITY ? 0f : keep;
        }
    }

    @Override
    public void accept(int tokenId) {
        if (!reasoning) {
            return;
        }
        if (spent >= budget && tokenId != m.thinkEnd()) {
            throw new IllegalStateException("token " + tokenId + " chosen after the thinking budget forced </think>");
        }
        if (tokenId == m.thinkEnd() || tokenId == m.sectionBegin() || m.isEnd(tokenId)) {
            reasoning = false;
        } else {
            spent++;
        }
    }
}
