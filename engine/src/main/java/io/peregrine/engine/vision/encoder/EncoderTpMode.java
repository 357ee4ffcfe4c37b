package io.peregrine.engine.vision.encoder;

import java.util.Locale;

/**
 * {@code --mm-encoder-tp-mode} (vLLM's name): how the vision tower uses tensor-parallel ranks. {@link #WEIGHTS}: one
 * copy of the tower encodes every item (Peregrine does not shard the tower's weights; it is ~0.47 B parameters);
 * {@link #DATA}: every rank holds the tower and encodes a share of the items ({@link DataParallelVisionEncoder}).
 */
public enum EncoderTpMode {
    WEIGHTS,
    DATA;

    public static EncoderTpMode parse(String value) {
        try {
            return valueOf(value.trim().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--mm-encoder-tp-mode must be weights or data, got " + value);
        }
    }
}
