package io.peregrine.engine.sample;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Turns one choice's token bytes into text that is safe to send, and finds stop strings in it.
 *
 * <p>Bytes are decoded incrementally: an incomplete UTF-8 sequence at the end waits for the next token, so a
 * character split across tokens is never sent in halves (invalid bytes become U+FFFD). Text that could be the
 * start of a stop string is held back until the next token decides; when a stop string appears, only the text
 * before it is released and nothing after it ever is.
 */
public final class StopStrings {
    /** Text released by one {@link #push}; {@code stop} is the matched stop string, or null. */
    public record Release(String text, String stop) {}

    private final List<String> stops;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pendingBytes = ByteBuffer.allocate(0);
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

    public Release push(byte[] bytes) {
        if (stopped) {
            throw new IllegalStateException("text after a stop string");
        }
        decode(bytes, false);
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
            String text = held.substring(0, at);
            held.setLength(0);
            return new Release(text, match);
        }
        int release = held.length() - heldBack();
        if (release > 0 && Character.isHighSurrogate(held.charAt(release - 1))) {
            release--;
        }
        String text = held.substring(0, release);
        held.delete(0, release);
        return new Release(text, null);
    }

    /** Everything still held, at the end of the choice (no stop string completed). */
    public String flush() {
        if (stopped) {
            return "";
        }
        decode(new byte[0], true);
        CharBuffer tail = CharBuffer.allocate(8);
        utf8.flush(tail);
        held.append(tail.flip());
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

    private void decode(byte[] bytes, boolean end) {
        ByteBuffer in = ByteBuffer.allocate(pendingBytes.remaining() + bytes.length);
        in.put(pendingBytes).put(bytes).flip();
        CharBuffer out = CharBuffer.allocate(in.remaining() + 2);
        utf8.decode(in, out, end);
        held.append(out.flip());
        pendingBytes = in;
    }
}
