package io.peregrine.engine.tokenizer;

/** What literal special-token text (e.g. {@code "<|im_end|>"} typed by a user) becomes when encoded. */
public enum SpecialTextPolicy {
    /** Ordinary text: a user cannot inject a turn boundary. The default for untrusted content. */
    AS_TEXT,
    /** The special id, as Moonshot's {@code TikTokenTokenizer.encode} does ({@code allowed_special="all"}). */
    AS_SPECIAL
}
