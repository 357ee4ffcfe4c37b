package io.peregrine.server.prompt;


/**
 * The one resolved thinking switch of a request, from whichever spelling the client used. It drives both the
 * chat template (prefill {@code <think>} or an empty think block) and the output parser's initial state.
 *
 * @param keep Moonshot's {@code thinking.keep}: null (earlier turns' reasoning is dropped) or "all"
 */
public record ThinkingMode(boolean enabled, String keep) {
    public static final ThinkingMode ENABLED = new ThinkingMode(true, null);
    public static final ThinkingMode DISABLED = new ThinkingMode(false, null);
}
