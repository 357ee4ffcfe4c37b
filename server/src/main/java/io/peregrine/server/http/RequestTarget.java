package io.peregrine.server.http;

/** The request line's target as this server reads it. */
public final class RequestTarget {
    private RequestTarget() {}

    /** RFC 9112 3.2.2: a server must accept the absolute form ({@code http://host/path}) that proxies send. */
    public static String originForm(String uri) {
        if (!(uri.regionMatches(true, 0, "http://", 0, 7) || uri.regionMatches(true, 0, "https://", 0, 8))) {
            return uri;
        }
        int slash = uri.indexOf('/', uri.indexOf("//") + 2);
        return slash < 0 ? "/" : uri.substring(slash);
    }
}
