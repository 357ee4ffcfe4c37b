package io.peregrine.engine.tokenizer;

/**
 * One of the 256 reserved ids after the ordinary ranks.
 *
 * @param hfSpecial the Hugging Face {@code special} flag: false for the tool-call markers and think tags, which is
 *                  why {@code skip_special_tokens} decoding keeps them and parsers can see them
 */
public record SpecialToken(int id, String text, boolean hfSpecial) {}
