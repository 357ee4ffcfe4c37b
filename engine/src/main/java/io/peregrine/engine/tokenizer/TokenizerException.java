package io.peregrine.engine.tokenizer;

/** Tokenizer files that cannot be used, or ids that are not in the vocabulary; the message says which. */
public class TokenizerException extends RuntimeException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
