package io.peregrine.server.media;

/** A media URL the server will not or cannot load; always the client's to fix (HTTP 400). */
public final class MediaFetchException extends RuntimeException {
    private final String source;

    public MediaFetchException(String source, String message) {
        super(source + ": " + message);
        this.source = source;
    }

    public MediaFetchException(String source, String message, Throwable cause) {
        super(source + ": " + message, cause);
        this.source = source;
    }

    /** Where the URL was in the request, e.g. "messages[0].content[1]". */
    public String source() {
        return source;
    }
}
