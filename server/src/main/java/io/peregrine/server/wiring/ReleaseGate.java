package io.peregrine.server.wiring;

import io.peregrine.engine.runtime.TokenDecoder;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * Lets a choice's token ids through only once the engine has released their text. The engine holds back text
 * that could begin a stop string and never releases a stop string or anything after it; the Kimi parser decodes
 * ids itself, so without this gate the stop string (and the rest of its token) would reach the client. The gate
 * models the engine's text stream (the same bytes per token, the same incremental UTF-8 decoding) and credits
 * each step's released characters to the oldest held tokens.
 */
final class ReleaseGate {
    /** A token not yet let through, with the text the engine's stream holds for it. */
    record Held(int id, String text) {}

    private final TokenDecoder decoder;
    private final boolean engineSkipsSpecialText;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPLACE)
            .onUnmappableCharacter(CodingErrorAction.REPLACE);
    private ByteBuffer pendingBytes = ByteBuffer.allocate(0);
    private final ArrayDeque<Held> held = new ArrayDeque<>();
    private long credit;

    /** @param engineSkipsSpecialText the engine's {@code skipSpecialTokens}: special tokens add no text to its stream */
    ReleaseGate(TokenDecoder decoder, boolean engineSkipsSpecialText) {
        this.decoder = decoder;
        this.engineSkipsSpecialText = engineSkipsSpecialText;
    }

    /** One engine step: its new ids and the text it released. Returns the ids whose text is now all released. */
    int[] accept(int[] ids, String released) {
        for (int id : ids) {
            byte[] bytes = engineSkipsSpecialText && decoder.isSpecial(id) ? new byte[0] : decoder.bytes(id);
            held.add(new Held(id, decode(bytes)));
        }
        credit += released.length();
        List<Integer> ready = new ArrayList<>(ids.length);
        while (!held.isEmpty() && held.peekFirst().text().length() <= credit) {
            Held h = held.pollFirst();
            credit -= h.text().length();
            ready.add(h.id());
        }
        if (held.isEmpty()) {
            // The engine released characters the model did not predict (a partial character flushed at the end):
            // nothing is owed, so no later token may be let through early on that credit.
            credit = 0;
        }
        return ready.stream().mapToInt(Integer::intValue).toArray();
    }

    /** Tokens still held: at the end of a choice, those a stop string cut (or an eos that adds no text). */
    List<Held> held() {
        return List.copyOf(held);
    }

    /** Released characters not yet spent on a whole held token: how much of the first held token was sent. */
    int credit() {
        return (int) credit;
    }

    private String decode(byte[] bytes) {
        ByteBuffer in = ByteBuffer.allocate(pendingBytes.remaining() + bytes.length);
        in.put(pendingBytes).put(bytes).flip();
        CharBuffer out = CharBuffer.allocate(in.remaining() + 2);
        utf8.decode(in, out, false);
        pendingBytes = in;
        return out.flip().toString();
    }
}
