package io.peregrine.server.http;

import java.util.List;

/** Client-supplied text quoted back in errors and logs, kept short so a request cannot inflate either. */
public final class Quote {
    static final int MAX_QUOTE = 200;
    static final int MAX_NAMES = 20;

    private Quote() {}

    /** {@code s} whole, or its first {@link #MAX_QUOTE} characters and how long it was. */
    public static String clip(String s) {
        if (s.length() <= MAX_QUOTE) {
            return s;
        }
        return s.substring(0, MAX_QUOTE) + "... (" + s.length() + " characters)";
    }

    /** The first {@link #MAX_NAMES} names, each clipped, and how many more there were. */
    static String names(List<String> names) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < Math.min(names.size(), MAX_NAMES); i++) {
            sb.append(i == 0 ? "" : ", ").append(clip(names.get(i)));
        }
        if (names.size() > MAX_NAMES) {
            sb.append(", ... ").append(names.size() - MAX_NAMES).append(" more");
        }
        return sb.append(']').toString();
    }
}
