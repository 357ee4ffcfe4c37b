package io.peregrine.engine.media;

/**
 * A video or PDF the server cannot accept. Every reason is the client's fault (the server maps it to HTTP 400, never
 * 500); the message names the input and what is wrong with it.
 */
public final class MediaInputException extends RuntimeException {

    public enum Reason {
        /** zero bytes */
        EMPTY,
        /** not a container/document we read (or not a video/PDF at all) */
        UNSUPPORTED_FORMAT,
        /** recognised, but no decoder for its codec, or no video stream */
        UNSUPPORTED_CODEC,
        /** recognised format, but truncated or corrupt */
        CORRUPT,
        /** a password-protected PDF */
        ENCRYPTED,
        /** over a size limit: bytes, pixels per frame or page, pages */
        TOO_LARGE,
        /** video longer than the duration limit */
        TOO_LONG,
        /** a PDF with more pages than the page limit */
        TOO_MANY_PAGES,
        /** more sampled frames than the frame limit */
        TOO_MANY_FRAMES,
        /** more vision tokens than the per-request limit */
        TOO_MANY_TOKENS
    }

    private final Reason reason;

    public MediaInputException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public MediaInputException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
