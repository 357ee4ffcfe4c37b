package io.peregrine.engine.media;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.pdf.PdfLimits;
import io.peregrine.engine.media.video.VideoLimits;
import io.peregrine.engine.media.video.VideoProcessorConfig;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import javax.imageio.ImageIO;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.junit.jupiter.api.Test;

/** Planning, budgets and the per-chunk encoder cache, with a counting stand-in for the tower. */
class MediaProcessorTest {

    static final class CountingEncoder implements VisionEncoder {
        final AtomicInteger calls = new AtomicInteger();
        final AtomicInteger frames = new AtomicInteger();

        @Override
        public VisionEmbeddings encode(PreprocessedImage image) {
            calls.incrementAndGet();
            frames.addAndGet(image.grid().t());
            return new VisionEmbeddings(image.numTokens(), 4, new float[image.numTokens() * 4]);
        }

        @Override
        public int outputHidden() {
            return 4;
        }

        @Override
        public void close() {}
    }

    static MediaProcessor processor(CountingEncoder enc, MediaBudget budget) {
        return new MediaProcessor(new ImageDecoder(), new ImagePreprocessor(), enc, new VisionEmbeddingCache(1 << 24),
                VideoProcessorConfig.K25, budget);
    }

    static byte[] png(int w, int h, int rgb) throws Exception {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, rgb ^ (x * 7 + y));
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

    static byte[] video() throws Exception {
        return Files.readAllBytes(TestData.root().resolve("media").resolve("tiny_3s_4fps.mp4"));
    }

    @Test
    void videoChunksAreEncodedOnceAndCachedByContent() throws Exception {
        CountingEncoder enc = new CountingEncoder();
        MediaProcessor p = processor(enc, MediaBudget.DEFAULT);
        List<MediaSplice.Item> first;
        try (MediaProcessor.Plan plan = p.plan(List.of(new MediaPart.Video(video(), "v")))) {
            assertEquals(2, plan.items().size(), "6 sampled frames: chunks of 4 and 2");
            assertEquals(0, enc.calls.get(), "planning encodes nothing");
            assertTrue(plan.parts().getFirst().videoPrompt().startsWith("00:00:00.000<|media_begin|>video"));
            first = plan.encode();
        }
        assertEquals(2, enc.calls.get());
        assertEquals(6, enc.frames.get(), "each chunk holds its own frames");
        try (MediaProcessor.Plan plan = p.plan(List.of(new MediaPart.Video(video(), "again")))) {
            List<MediaSplice.Item> again = plan.encode();
            assertEquals(first.get(1).contentHash(), again.get(1).contentHash());
            assertTrue(first.get(0).contentHash() != first.get(1).contentHash());
        }
        assertEquals(2, enc.calls.get(), "a resent video is not decoded or encoded again");
    }

    @Test
    void budgetsAreCheckedBeforeEncoding() throws Exception {
        CountingEncoder enc = new CountingEncoder();
        MediaProcessor small = processor(enc, new MediaBudget(100, VideoLimits.DEFAULT, PdfLimits.DEFAULT));
        byte[] img = png(300, 200, 0x336699); // 88 tokens
        small.plan(List.of(new MediaPart.Image(img, "a"))).close();
        var e = assertThrows(MediaInputException.class,
                () -> small.plan(List.of(new MediaPart.Image(img, "a"), new MediaPart.Image(png(300, 200, 0x112233), "b"))));
        assertEquals(Reason.TOO_MANY_TOKENS, e.reason());
        assertTrue(e.getMessage().contains("176 vision tokens (through b); the limit is 100"), e.getMessage());

        VideoLimits oneSecond = new VideoLimits(1 << 20, 1.0, 100, 1 << 20, 10_000);
        var tooLong = assertThrows(MediaInputException.class, () -> processor(enc,
                new MediaBudget(10_000, oneSecond, PdfLimits.DEFAULT)).plan(List.of(new MediaPart.Video(video(), "v"))));
        assertEquals(Reason.TOO_LONG, tooLong.reason());
        var frames = assertThrows(MediaInputException.class, () -> processor(enc, new MediaBudget(10_000,
                new VideoLimits(1 << 20, 60, 5, 1 << 20, 10_000), PdfLimits.DEFAULT))
                .plan(List.of(new MediaPart.Video(video(), "v"))));
        assertEquals(Reason.TOO_MANY_FRAMES, frames.reason());

        var pages = assertThrows(MediaInputException.class, () -> processor(enc, new MediaBudget(10_000,
                VideoLimits.DEFAULT, new PdfLimits(1 << 20, 2))).plan(List.of(new MediaPart.Pdf(pdf(3), "doc"))));
        assertEquals(Reason.TOO_MANY_PAGES, pages.reason());
        var corrupt = assertThrows(MediaInputException.class, () -> processor(enc, MediaBudget.DEFAULT)
                .plan(List.of(new MediaPart.Video("definitely not a video".getBytes(), "v"))));
        assertTrue(corrupt.getMessage().startsWith("v: "), corrupt.getMessage());
        assertEquals(0, enc.calls.get());
    }

    @Test
    void pdfPagesAreImagesInOrder() throws Exception {
        CountingEncoder enc = new CountingEncoder();
        try (MediaProcessor.Plan plan = processor(enc, MediaBudget.DEFAULT).plan(List.of(new MediaPart.Pdf(pdf(3), "doc")))) {
            assertEquals(3, plan.parts().getFirst().imageParts());
            assertEquals(3, plan.items().size());
            assertTrue(plan.items().get(2).cacheKey().endsWith("/page=2"));
            plan.encode();
        }
        assertEquals(3, enc.calls.get());
    }

    static byte[] pdf(int pages) throws Exception {
        try (PDDocument doc = new PDDocument()) {
            for (int i = 0; i < pages; i++) {
                doc.addPage(new PDPage(new PDRectangle(72, 72 + 10 * i)));
            }
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            doc.save(out);
            return out.toByteArray();
        }
    }
}
