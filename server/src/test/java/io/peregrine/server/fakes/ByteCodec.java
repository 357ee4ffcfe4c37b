package io.peregrine.server.fakes;

import io.peregrine.server.text.TextCodec;
import java.nio.charset.StandardCharsets;

/** One token per UTF-8 byte: enough to check token accounting and logprob strings without a vocabulary. */
public final class ByteCodec implements TextCodec {
    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[b.length];
        for (int i = 0; i < b.length; i++) {
            ids[i] = b[i] & 0xff;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        byte[] b = new byte[ids.length];
        for (int i = 0; i < ids.length; i++) {
            b[i] = (byte) ids[i];
        }
        return new String(b, StandardCharsets.UTF_8);
    }

    @Override
    public byte[] tokenBytes(int id) {
        return new byte[] {(byte) id};
    }

    @Override
    public int vocabSize() {
        return 256;
    }
}
