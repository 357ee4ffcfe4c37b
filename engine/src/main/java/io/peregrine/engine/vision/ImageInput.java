package io.peregrine.engine.vision;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One image exactly as the client sent it (the decoded data-URL / file / HTTP body bytes), before any decoding.
 * The SHA-256 of these bytes is the cheap, pre-decode key for the encoder cache and for prefix-cache keys:
 * agents resend the same screenshot bytes every turn, so a hit skips decoding, resizing and the tower.
 *
 * @param bytes  the encoded image (PNG, JPEG, WebP, GIF, BMP)
 * @param source where it came from, for error messages only (e.g. "messages[1].content[0]")
 */
public record ImageInput(byte[] bytes, String source) {

    public ImageInput {
        if (bytes == null) {
            throw new IllegalArgumentException("image bytes are null");
        }
        source = source == null ? "image" : source;
    }

    public static ImageInput of(byte[] bytes) {
        return new ImageInput(bytes, "image");
    }

    /** Hex SHA-256 of the encoded bytes. */
    public String sha256() {
        return sha256Hex(bytes);
    }

    static String sha256Hex(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JDK", e);
        }
    }
}
