package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.peregrine.engine.vision.decode.DecodeLimits;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The pipeline's caching and token accounting, with a counting stand-in for the tower (tower: VisionTowerGoldenTest). */
class VisionPipelineTest {

    /** Embeds each token as its index, and counts calls. */
    static final class CountingEncoder implements VisionEncoder {
        final AtomicInteger calls = new AtomicInteger();

        @Override
        public VisionEmbeddings encode(PreprocessedImage image) {
            calls.incrementAndGet();
            float[] v = new float[image.numTokens() * 2];
            for (int i = 0; i < image.numTokens(); i++) {
                v[2 * i] = i;
            }
            return new VisionEmbeddings(image.numTokens(), 2, v);
        }

        @Override
        public int outputHidden() {
            return 2;
        }

        @Override
        public void close() {}
    }

    @Test
    void repeatedImageHitsTheCacheAndHeaderCountMatches() {
        CountingEncoder enc = new CountingEncoder();
        VisionEmbeddingCache cache = new VisionEmbeddingCache(1 << 20);
        VisionPipeline pipeline = new VisionPipeline(new ImageDecoder(), new ImagePreprocessor(), enc, cache);
        ImageInput img2 = VisionGolden.input("inputs/img2_300x200_rgba.png");
        assertEquals(88, pipeline.numTokens(img2));
        VisionPipeline.EncodedImage first = pipeline.encode(img2);
        VisionPipeline.EncodedImage again = pipeline.encode(new ImageInput(img2.bytes().clone(), "resent"));
        assertEquals(1, enc.calls.get());
        assertEquals(1, cache.hits());
        assertSame(first.embeddings(), again.embeddings());
        assertEquals(88, again.numTokens());
        assertEquals(new GridThw(1, 16, 22), again.grid());
        assertEquals(first.contentKey(), again.contentKey());
        assertEquals(414, pipeline.numTokens(VisionGolden.input("inputs/img3_640x480_gray.png")));
        assertEquals(4187, pipeline.numTokens(VisionGolden.input("inputs/img4_3000x2000.png")));
    }

    @Test
    void cacheEvictsLeastRecentlyUsedByBytes() {
        VisionEmbeddingCache cache = new VisionEmbeddingCache(3 * 4 * 4); // three 4-float entries
        for (String k : new String[] {"a", "b", "c"}) {
            cache.get(k, () -> new VisionEmbeddings(2, 2, new float[4]));
        }
        cache.get("a", () -> { throw new AssertionError("a is cached"); });
        cache.get("d", () -> new VisionEmbeddings(2, 2, new float[4])); // evicts b, the least recently used
        assertEquals(3, cache.size());
        AtomicInteger recomputed = new AtomicInteger();
        cache.get("b", () -> {
            recomputed.incrementAndGet();
            return new VisionEmbeddings(2, 2, new float[4]);
        });
        assertEquals(1, recomputed.get());
        assertEquals(48, cache.bytes());
    }

    @Test
    void badImagesFailBeforeTheEncoder() {
        CountingEncoder enc = new CountingEncoder();
        VisionPipeline pipeline = new VisionPipeline(new ImageDecoder(new DecodeLimits(10_000)), new ImagePreprocessor(),
                enc, new VisionEmbeddingCache(1 << 20));
        assertThrows(ImageDecodeException.class, () -> pipeline.encode(ImageInput.of("GIF89a-but-not".getBytes())));
        assertThrows(ImageDecodeException.class, () -> pipeline.numTokens(VisionGolden.input("inputs/img3_640x480_gray.png")));
        assertEquals(0, enc.calls.get());
    }
}
