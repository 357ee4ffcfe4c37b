package io.peregrine.engine.tokenizer;

/** Where a token id's raw bytes come from (a BPE token can be part of a UTF-8 character). */
@FunctionalInterface
public interface TokenBytes {
    byte[] bytes(int tokenId);
}
