package io.peregrine.engine.vision;

import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import io.peregrine.engine.vision.preprocess.ResizePlan;

/**
 * Image bytes to LM embeddings: decode, preprocess, encode, with an encoder cache keyed by the SHA-256 of the
 * bytes (the preprocessing config and the encoder are fixed per pipeline, so the bytes decide the output).
 * Errors in the image surface as {@link io.peregrine.engine.vision.decode.ImageDecodeException} (HTTP 400).
 */
public final class VisionPipeline {
    private final ImageDecoder decoder;
    private final ImagePreprocessor preprocessor;
    private final VisionEncoder encoder;
    private final VisionEmbeddingCache cache;

    /** One encoded image: its cache key (also usable in prefix-cache keys), grid and embeddings. */
    public record EncodedImage(String contentKey, GridThw grid, VisionEmbeddings embeddings) {
        public int numTokens() {
            return embeddings.tokens();
        }
    }

    public VisionPipeline(ImageDecoder decoder, ImagePreprocessor preprocessor, VisionEncoder encoder,
                          VisionEmbeddingCache cache) {
        this.decoder = decoder;
        this.preprocessor = preprocessor;
        this.encoder = encoder;
        this.cache = cache;
    }

    /** LM positions the image will occupy, from its header alone (no pixel decoding): for prompt accounting. */
    public int numTokens(ImageInput input) {
        ImageDecoder.Header h = decoder.probe(input);
        ResizePlan plan = preprocessor.planImage(h.width(), h.height());
        return plan.numTokens();
    }

    public PreprocessedImage preprocess(ImageInput input) {
        return preprocessor.image(decoder.decode(input), input.sha256());
    }

    public EncodedImage encode(ImageInput input) {
        String key = input.sha256();
        GridThw[] grid = new GridThw[1];
        VisionEmbeddings emb = cache.get(key, () -> {
            PreprocessedImage p = preprocessor.image(decoder.decode(input), key);
            grid[0] = p.grid();
            return encoder.encode(p);
        });
        if (grid[0] == null) {
            ImageDecoder.Header h = decoder.probe(input);
            ResizePlan plan = preprocessor.planImage(h.width(), h.height());
            grid[0] = new GridThw(1, plan.gridHeight(), plan.gridWidth());
        }
        return new EncodedImage(key, grid[0], emb);
    }
}
