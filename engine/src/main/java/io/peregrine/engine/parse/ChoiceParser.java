package io.peregrine.engine.parse;

import java.util.List;

/**
 * Splits one choice's output into reasoning, content and tool-call deltas. The engine decodes every token once
 * and feeds each one here with its text, in order, as soon as no stop string can still take it back. One per
 * choice; not thread-safe.
 */
public interface ChoiceParser {

    /**
     * One token. {@code text} is the token's decoded text; for a special token, the text that it made final
     * (bytes of an unfinished character before it, as U+FFFD) and never the marker itself; for the token a stop
     * string cut, the part before the stop string.
     */
    List<OutputDelta> push(int id, String text);

    /** True while the output is inside reasoning (the engine counts reasoning tokens with it). */
    boolean inReasoning();

    /**
     * The output ended. {@code tail} is text no token took (an unfinished character at the end, as U+FFFD);
     * {@code reason} is how it ended.
     */
    List<OutputDelta> finish(String tail, OutputFinish reason);

    /** Makes each choice's parser of a request. */
    @FunctionalInterface
    interface Factory {
        ChoiceParser forChoice();
    }
}
