package io.peregrine.engine.runtime;

import io.peregrine.engine.tokenizer.TokenBytes;

/**
 * What the engine needs of the tokenizer to produce text: a token's raw bytes (a BPE token can be part of a
 * UTF-8 character) and whether it is a special token. The tokenizer implements it.
 */
public interface TokenDecoder extends TokenBytes {
    @Override
    byte[] bytes(int tokenId);

    boolean isSpecial(int tokenId);
}
