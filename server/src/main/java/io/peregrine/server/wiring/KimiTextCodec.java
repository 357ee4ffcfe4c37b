package io.peregrine.server.wiring;

import io.peregrine.engine.runtime.TokenDecoder;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.server.text.TextCodec;

/**
 * The Kimi tokenizer as the HTTP layer and the engine see it. Raw prompts ({@code /v1/completions},
 * {@code /tokenize}) keep special-token text literal: a client that wants a marker sends its id.
 */
public final class KimiTextCodec implements TextCodec, TokenDecoder {
    private final KimiTokenizer tokenizer;
    private final int bos;

    public KimiTextCodec(KimiTokenizer tokenizer, int bosTokenId) {
        this.tokenizer = tokenizer;
        this.bos = bosTokenId;
    }

    public KimiTokenizer tokenizer() {
        return tokenizer;
    }

    @Override
    public int[] encode(String text, boolean addSpecialTokens) {
        int[] ids = tokenizer.encode(text, SpecialTextPolicy.AS_TEXT);
        if (!addSpecialTokens || bos < 0) {
            return ids;
        }
        int[] out = new int[ids.length + 1];
        out[0] = bos;
        System.arraycopy(ids, 0, out, 1, ids.length);
        return out;
    }

    @Override
    public String decode(int[] ids) {
        return tokenizer.decode(ids);
    }

    @Override
    public byte[] tokenBytes(int id) {
        return tokenizer.tokenBytes(id);
    }

    @Override
    public int vocabSize() {
        return tokenizer.vocabSize();
    }

    @Override
    public byte[] bytes(int tokenId) {
        return tokenizer.tokenBytes(tokenId);
    }

    @Override
    public boolean isSpecial(int tokenId) {
        return tokenizer.isSpecial(tokenId);
    }
}
