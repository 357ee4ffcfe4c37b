package io.peregrine.server.bench;

/** The two OpenAI generation endpoints the benchmark can drive. */
public enum Endpoint {
    CHAT("/v1/chat/completions"),
    COMPLETIONS("/v1/completions");

    private final String path;

    Endpoint(String path) {
        this.path = path;
    }

    public String path() {
        return path;
    }

    /** Accepts {@code chat}, {@code completions} or the endpoint path itself. */
    public static Endpoint parse(String s) {
        for (Endpoint e : values()) {
            if (e.path.equals(s) || e.name().equalsIgnoreCase(s)) {
                return e;
            }
        }
        throw new IllegalArgumentException("unknown endpoint '" + s + "': use chat, completions, "
                + CHAT.path + " or " + COMPLETIONS.path);
    }
}
