package io.peregrine.server.prompt;


/** The conversation is well-formed JSON but cannot be rendered, e.g. a tool message with no matching call. */
public final class InvalidPromptException extends Exception {
    private final String param;

    /** @param param the offending field, e.g. {@code messages[3].tool_call_id}, or null */
    public InvalidPromptException(String message, String param) {
        super(message);
        this.param = param;
    }

    public String param() {
        return param;
    }
}
