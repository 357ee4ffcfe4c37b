package io.peregrine.engine.sample;

import java.util.List;

/**
 * Finds stop strings in one choice's text as it grows and says how much of it is safe to send. Text that could
 * be the start of a stop string is held back until the next piece decides; when a stop string appears, only the
 * text before it is released and nothing after it ever is. The text comes already decoded (a character split
 * across tokens arrives whole), so a released prefix never ends inside a character.
 */
public final class StopStrings {
    /** Text released by one {@link #push}; {@code stop} is the matched stop string, or null. */
    public record Release(String text, String stop) {}

    private final List<String> stops;
    private final StringBuilder held = new StringBuilder();
    private boolean stopped;

    public StopStrings(List<String> stops) {
        for (String s : stops) {
            if (s.isEmpty()) {
                throw new IllegalArgumentException("empty stop string");
            }
        }
        this.stops = List.copyOf(stops);
    }

    public Release push(String text) {
        if (stopped) {
            throw new IllegalStateException("text after a stop string");
        }
        held.append(text);
        if (stops.isEmpty()) {
            String all = held.toString();
            held.setLength(0);
            return new Release(all, null);
        }
        int at = -1;
        String match = null;
        for (String s : stops) {
            int i = held.indexOf(s);
            if (i >= 0 && (at < 0 || i < at)) {
                at = i;
                match = s;
            }
        }
        if (match != null) {
            stopped = true;
            String released = held.substring(0, at);
            held.setLength(0);
            return new Release(released, match);
        }
        int release = held.length() - heldBack();
        if (release > 0 && Character.isHighSurrogate(held.charAt(release - 1))) {
            release--;
        }
        String released = held.substring(0, release);
        held.delete(0, release);
        return new Release(released, null);
    }

    /** Everything still held, at the end of the choice (no stop string completed). */
    public String flush() {
        if (stopped) {
            return "";
        }
        String text = held.toString();
        held.setLength(0);
        stopped = true;
        return text;
    }

    // The longest end of the held text that is a proper prefix of a stop string.
    private int heldBack() {
        int best = 0;
        for (String s : stops) {
            for (int k = Math.min(s.length() - 1, held.length()); k > best; k--) {
                if (CharSequence.compare(held.subSequence(held.length() - k, held.length()), s.subSequence(0, k)) == 0) {
                    best = k;
                    break;
                }
            }
        }
        return best;
    }
}
