package io.peregrine.server.chat;

/** A rendered and tokenized conversation. */
public record ChatPrompt(int[] tokenIds) {
    public ChatPrompt {
        tokenIds = tokenIds.clone();
    }

    @Override
    public int[] tokenIds() {
        return tokenIds.clone();
    }

    public int length() {
        return tokenIds.length;
    }
}
