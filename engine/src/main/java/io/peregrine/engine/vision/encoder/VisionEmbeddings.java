package io.peregrine.engine.vision.encoder;

/**
 * The projector output of one vision item: {@code tokens} rows of {@code hidden} floats (the text hidden size),
 * row-major over the merged patch grid, ready to overwrite the embeddings of that item's {@code <|media_pad|>}
 * positions.
 */
public record VisionEmbeddings(int tokens, int hidden, float[] values) {

    public VisionEmbeddings {
        if (values.length != (long) tokens * hidden) {
            throw new IllegalArgumentException(values.length + " floats for " + tokens + " x " + hidden);
        }
    }

    public float get(int token, int i) {
        return values[token * hidden + i];
    }
}
