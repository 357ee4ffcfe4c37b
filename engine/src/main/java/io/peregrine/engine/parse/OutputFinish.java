package io.peregrine.engine.parse;

/** OpenAI's {@code finish_reason} of a choice, after parsing. */
public enum OutputFinish {
    STOP("stop"), LENGTH("length"), TOOL_CALLS("tool_calls"), ABORT("abort"), TIMEOUT("timeout");

    private final String openAiName;

    OutputFinish(String openAiName) {
        this.openAiName = openAiName;
    }

    public String openAiName() {
        return openAiName;
    }
}
