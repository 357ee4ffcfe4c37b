package io.peregrine.engine.vision.decode;

/**
 * An image the server cannot accept. Every reason is the client's fault (HTTP 400); the message names the image
 * and what is wrong with it.
 */
public final class ImageDecodeException extends RuntimeException {

    public enum Reason {
        /** zero bytes */
        EMPTY,
        /** the bytes are none of PNG, JPEG, WebP, GIF, BMP */
        UNSUPPORTED_FORMAT,
        /** declared dimensions above the pixel limit (checked before any pixel is decoded) */
        TOO_LARGE,
        /** recognised format, but truncated or corrupt */
        CORRUPT,
        /** valid file of a kind we do not convert (e.g. CMYK JPEG) */
        UNSUPPORTED_CONTENT
    }

    private final Reason reason;

    public ImageDecodeException(Reason reason, String message) {
        super(message);
        this.reason = reason;
    }

    public ImageDecodeException(Reason reason, String message, Throwable cause) {
        super(message, cause);
        this.reason = reason;
    }

    public Reason reason() {
        return reason;
    }
}
