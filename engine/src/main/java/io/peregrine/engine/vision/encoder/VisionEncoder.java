package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.vision.preprocess.PreprocessedImage;

/** Pixels of one vision item (image or video chunk) to LM input embeddings. Implementations are thread-safe. */
public interface VisionEncoder extends AutoCloseable {

    VisionEmbeddings encode(PreprocessedImage image);

    /** Width of each output row (the text model's hidden size). */
    int outputHidden();

    @Override
    void close();
}
