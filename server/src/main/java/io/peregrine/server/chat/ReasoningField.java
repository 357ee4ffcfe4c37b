package io.peregrine.server.chat;

/**
 * Which name the reasoning text is sent under. The Moonshot API, Kimi's verifier and kimi-cli read
 * {@code reasoning_content}; vLLM since 0.11 writes {@code reasoning}; clients of both exist, so both is the
 * default.
 */
public enum ReasoningField {
    BOTH, REASONING_CONTENT, REASONING;

    public String contentField(String text) {
        return this == REASONING ? null : text;
    }

    public String reasoningField(String text) {
        return this == REASONING_CONTENT ? null : text;
    }
}
