package io.peregrine.server.text;

/** The tokenizer as the HTTP layer needs it (raw prompts, /tokenize, /detokenize, logprob token strings). */
public interface TextCodec {

    /** @param addSpecialTokens whether to add the BOS-style tokens the model expects at the start */
    int[] encode(String text, boolean addSpecialTokens);

    /** Decodes ids, special tokens included, replacing incomplete UTF-8 with U+FFFD. */
    String decode(int[] ids);

    /** The token's raw bytes (a byte-level token may be part of a character). */
    byte[] tokenBytes(int id);

    int vocabSize();
}
