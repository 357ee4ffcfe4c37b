package io.peregrine.engine.vision.encoder;

import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.ArrayList;
import java.util.List;

/** Pixels of one vision item (image or video chunk) to LM input embeddings. Implementations are thread-safe. */
public interface VisionEncoder extends AutoCloseable {

    VisionEmbeddings encode(PreprocessedImage image);

    /**
     * Several items, in order; an encoder that can run them as one pass (variable sizes, attention kept inside each
     * item) does, and gives each the embeddings it would give alone.
     */
    default List<VisionEmbeddings> encodeAll(List<PreprocessedImage> images) {
        List<VisionEmbeddings> out = new ArrayList<>(images.size());
        for (PreprocessedImage image : images) {
            out.add(encode(image));
        }
        return out;
    }

    /** Width of each output row (the text model's hidden size). */
    int outputHidden();

    @Override
    void close();
}
