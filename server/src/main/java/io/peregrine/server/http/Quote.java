package io.peregrine.server.http;

import java.util.List;

/**
 * Client-supplied text quoted back in errors and logs, kept short so a request cannot inflate either, and with its
 * control characters escaped so it cannot forge a log line ({@code \n}, {@code \r}), rewrite the terminal (ANSI
 * escapes) or hide text (U+2028, bidi overrides) in the log or in the message a client reads.
 */
public final class Quote {
    static final int MAX_QUOTE = 200;
    static final int MAX_NAMES = 20;

    private Quote() {}

    /** {@code s} whole, or its first {@link #MAX_QUOTE} characters and how long it was; control characters escaped. */
    public static String clip(String s) {
        if (s.length() <= MAX_QUOTE) {
            return escape(s);
        }
        return escape(s.substring(0, MAX_QUOTE)) + "... (" + s.length() + " characters)";
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

    /** Control and format characters (C0, DEL, C1, line/paragraph separators, bidi controls) as {@code \}{@code uXXXX}. */
    static String escape(String s) {
        int i = 0;
        while (i < s.length() && !unsafe(s.charAt(i))) {
            i++;
        }
        if (i == s.length()) {
            return s;
        }
        StringBuilder sb = new StringBuilder(s.length() + 16).append(s, 0, i);
        for (; i < s.length(); i++) {
            char c = s.charAt(i);
            if (unsafe(c)) {
                sb.append(String.format("\\u%04x", (int) c));
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }

    private static boolean unsafe(char c) {
        int type = Character.getType(c);
        return type == Character.CONTROL || type == Character.LINE_SEPARATOR || type == Character.PARAGRAPH_SEPARATOR
                || type == Character.FORMAT && (c >= '\u202a' && c <= '\u202e' || c >= '\u2066' && c <= '\u2069');
    }
}
