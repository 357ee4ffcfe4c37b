/**
 * The Kimi K2.x tokenizer: tiktoken BPE ranks with the Kimi pre-tokenizer pattern, 256 special tokens, Moonshot's
 * long-input guard, and an incremental detokenizer for streaming. Entry point: {@link
 * io.peregrine.engine.tokenizer.KimiTokenizer}.
 */
package io.peregrine.engine.tokenizer;
