package io.peregrine.engine.constrain;

import io.peregrine.engine.parse.MarkerIds;
import io.peregrine.engine.runtime.TokenConstraint;
import java.util.Arrays;

/**
 * At most one tool call under {@code tool_choice} auto (OpenAI's {@code parallel_tool_calls: false}, Anthropic's
 * {@code disable_parallel_tool_use}): the model may answer or call, but once its first call has ended
 * ({@code <|tool_call_end|>}) only {@code <|tool_calls_section_end|>} and then {@code <|im_end|>} may follow, so a
 * second call is never begun rather than begun and then dropped.
 */
public final class SingleToolCall implements TokenConstraint {
    private enum Phase { FREE, CLOSE_SECTION, END, DONE }

    private final MarkerIds m;
    private Phase phase = Phase.FREE;

    private SingleToolCall(MarkerIds m) {
        this.m = m;
    }

    public static TokenConstraint.Factory factory(MarkerIds markers) {
        return choice -> new SingleToolCall(markers);
    }

    @Override
    public void mask(float[] logits) {
        switch (phase) {
            case CLOSE_SECTION -> keepOnly(logits, m.sectionEnd());
            case END -> keepOnly(logits, m.imEnd());
            case FREE, DONE -> { }
        }
    }

    @Override
    public void accept(int tokenId) {
        phase = switch (phase) {
            case FREE -> tokenId == m.callEnd() ? Phase.CLOSE_SECTION : Phase.FREE;
            case CLOSE_SECTION -> require(tokenId, m.sectionEnd(), Phase.END);
            case END -> require(tokenId, m.imEnd(), Phase.DONE);
            case DONE -> Phase.DONE;
        };
    }

    private static Phase require(int tokenId, int expected, Phase next) {
        if (tokenId != expected) {
            throw new IllegalStateException("token " + tokenId + " chosen where only " + expected + " was allowed");
        }
        return next;
    }

    private static void keepOnly(float[] logits, int id) {
        float keep = logits[id];
        Arrays.fill(logits, Float.NEGATIVE_INFINITY);
        logits[id] = keep == Float.NEGATIVE_INFINITY ? 0f : keep;
    }
}
