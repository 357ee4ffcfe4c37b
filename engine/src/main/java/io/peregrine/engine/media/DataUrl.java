package io.peregrine.engine.media;

import io.peregrine.engine.media.MediaInputException.Reason;
import java.util.Base64;
import java.util.Locale;

/**
 * A parsed {@code data:} URL (RFC 2397) as clients send media parts: {@code data:video/mp4;base64,AAAA...}.
 *
 * @param mediaType lower-cased type/subtype without parameters, e.g. "video/mp4"; "text/plain" when absent
 * @param bytes     the decoded payload
 */
public record DataUrl(String mediaType, byte[] bytes) {

    /** What kind of media part a type names. */
    public enum Kind { IMAGE, VIDEO, PDF, OTHER }

    /**
     * Parses and decodes a data URL, refusing a payload that would decode to more than {@code maxBytes} before
     * decoding it. Only base64 payloads are accepted: binary media in percent-encoding is not something clients send.
     */
    public static DataUrl parse(String url, long maxBytes, String source) {
        if (url == null || !url.regionMatches(true, 0, "data:", 0, 5)) {
            throw new MediaInputException(Reason.UNSUPPORTED_FORMAT, source + ": not a data: URL");
        }
        int comma = url.indexOf(',');
        if (comma < 0) {
            throw new MediaInputException(Reason.CORRUPT, source + ": the data URL has no ',' before its payload");
        }
        String header = url.substring(5, comma);
        String[] parts = header.split(";", -1);
        boolean base64 = false;
        for (int i = 1; i < parts.length; i++) {
            if (parts[i].trim().equalsIgnoreCase("base64")) {
                base64 = true;
            }
        }
        if (!base64) {
            throw new MediaInputException(Reason.UNSUPPORTED_FORMAT, source
                    + ": the data URL must be base64-encoded (data:<type>;base64,...)");
        }
        String type = parts[0].trim().toLowerCase(Locale.ROOT);
        if (type.isEmpty()) {
            type = "text/plain";
        }
        long payloadChars = url.length() - comma - 1L;
        if (payloadChars / 4 * 3 > maxBytes + 3) {
            throw new MediaInputException(Reason.TOO_LARGE, source + ": the data URL holds about " + payloadChars / 4 * 3
                    + " bytes; the limit is " + maxBytes);
        }
        byte[] bytes;
        try {
            bytes = Base64.getDecoder().decode(stripWhitespace(url.substring(comma + 1)));
        } catch (IllegalArgumentException e) {
            throw new MediaInputException(Reason.CORRUPT, source + ": the data URL is not valid base64 ("
                    + e.getMessage() + ")", e);
        }
        if (bytes.length > maxBytes) {
            throw new MediaInputException(Reason.TOO_LARGE, source + ": the data URL holds " + bytes.length
                    + " bytes; the limit is " + maxBytes);
        }
        return new DataUrl(type, bytes);
    }

    public Kind kind() {
        if (mediaType.startsWith("image/")) {
            return Kind.IMAGE;
        }
        // MP4, WebM, QuickTime (MOV), Matroska (MKV) and friends: FFmpeg probes the bytes, the type only routes.
        if (mediaType.startsWith("video/")) {
            return Kind.VIDEO;
        }
        if (mediaType.equals("application/pdf")) {
            return Kind.PDF;
        }
        return Kind.OTHER;
    }

    // Some clients wrap base64 at 76 columns; the strict decoder would reject the line breaks.
    private static String stripWhitespace(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (Character.isWhitespace(s.charAt(i))) {
                StringBuilder sb = new StringBuilder(s.length());
                for (int j = 0; j < s.length(); j++) {
                    char c = s.charAt(j);
                    if (!Character.isWhitespace(c)) {
                        sb.append(c);
                    }
                }
                return sb.toString();
            }
        }
        return s;
    }
}
