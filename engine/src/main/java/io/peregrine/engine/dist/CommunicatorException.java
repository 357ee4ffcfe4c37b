package io.peregrine.engine.dist;

/** A collective could not complete: a peer died, left, or did not answer in time. The group is unusable after it. */
public final class CommunicatorException extends RuntimeException {
    public CommunicatorException(String message) {
        super(message);
    }

    public CommunicatorException(String message, Throwable cause) {
        super(message, cause);
    }
}
