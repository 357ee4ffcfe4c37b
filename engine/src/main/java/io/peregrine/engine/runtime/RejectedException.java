package io.peregrine.engine.runtime;

/** The engine will not take a request. The server maps {@link Kind} to an HTTP status. */
public final class RejectedException extends Exception {
    public enum Kind {
        /** The waiting queue is full: retry later (429). */
        QUEUE_FULL,
        /** The request can never fit (prompt + max_tokens over the context or the KV cache) (400). */
        TOO_LARGE,
        /** The engine is loading, draining or stopped (503). */
        UNAVAILABLE
    }

    private final Kind kind;

    public RejectedException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }
}
