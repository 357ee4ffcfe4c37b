package io.peregrine.server.media;

/**
 * Media bytes and the type their source declared (data URL type, HTTP Content-Type), or null when it declared none
 * (local files). The type only routes PDFs; decoders identify formats from the bytes.
 */
public record FetchedMedia(String mediaType, byte[] bytes) {

    public boolean looksLikePdf() {
        if ("application/pdf".equals(mediaType)) {
            return true;
        }
        int n = Math.min(bytes.length, 1024);
        String head = new String(bytes, 0, n, java.nio.charset.StandardCharsets.ISO_8859_1);
        return head.contains("%PDF-");
    }
}
