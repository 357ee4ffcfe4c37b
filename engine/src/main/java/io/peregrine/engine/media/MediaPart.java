package io.peregrine.engine.media;

/**
 * One media part of a request, already resolved to its encoded bytes (data URL, allowed local file or fetched URL).
 * {@code source} names it in error messages, e.g. "messages[1].content[0]".
 */
public sealed interface MediaPart {
    byte[] bytes();

    String source();

    /** PNG, JPEG, WebP, GIF (first frame) or BMP: one image placeholder. */
    record Image(byte[] bytes, String source) implements MediaPart {}

    /** MP4, WebM, MOV, MKV...: one video placeholder, expanded to one media block per chunk. */
    record Video(byte[] bytes, String source) implements MediaPart {}

    /** A PDF: one image placeholder per page, in page order. */
    record Pdf(byte[] bytes, String source) implements MediaPart {}
}
