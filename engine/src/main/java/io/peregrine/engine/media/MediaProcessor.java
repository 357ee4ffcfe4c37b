package io.peregrine.engine.media;

import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.pdf.PageRaster;
import io.peregrine.engine.media.pdf.PdfPages;
import io.peregrine.engine.media.video.ChunkPlan;
import io.peregrine.engine.media.video.FfmpegVideo;
import io.peregrine.engine.media.video.SamplingPlan;
import io.peregrine.engine.media.video.VideoChunk;
import io.peregrine.engine.media.video.VideoFrame;
import io.peregrine.engine.media.video.VideoProcessorConfig;
import io.peregrine.engine.vision.ImageInput;
import io.peregrine.engine.vision.RgbImage;
import io.peregrine.engine.vision.VisionPipeline;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionEncoder;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * A request's media parts to vision items: images, PDF pages and video chunks, each with its LM token count (known
 * before anything is encoded, so the budget is checked first) and its embeddings on demand through the shared
 * encoder cache. Thread-safe: every request gets its own {@link Plan}.
 */
public final class MediaProcessor {
    private final ImagePreprocessor preprocessor;
    private final VisionEncoder encoder;
    private final VisionEmbeddingCache cache;
    private final VisionPipeline images;
    private final VideoProcessorConfig videoConfig;
    private final MediaBudget budget;

    public MediaProcessor(ImageDecoder decoder, ImagePreprocessor preprocessor, VisionEncoder encoder,
                          VisionEmbeddingCache cache, VideoProcessorConfig videoConfig, MediaBudget budget) {
        this.preprocessor = preprocessor;
        this.encoder = encoder;
        this.cache = cache;
        this.images = new VisionPipeline(decoder, preprocessor, encoder, cache);
        this.videoConfig = videoConfig;
        this.budget = budget;
    }

    public VisionEmbeddingCache cache() {
        return cache;
    }

    /** One vision item: one {@code <|media_pad|>} of the rendered prompt before expansion. */
    public record Item(String cacheKey, int tokens, Supplier<VisionEmbeddings> embeddings) {
        /** The first 64 bits of the SHA-256 of the cache key: the content hash of prefix-cache keys. */
        public long contentHash() {
            try {
                byte[] d = MessageDigest.getInstance("SHA-256").digest(cacheKey.getBytes(StandardCharsets.UTF_8));
                long h = 0;
                for (int i = 0; i < 8; i++) {
                    h = (h << 8) | (d[i] & 0xFF);
                }
                return h;
            } catch (NoSuchAlgorithmException e) {
                throw new IllegalStateException("SHA-256 is required by every JDK", e);
            }
        }
    }

    /**
     * What one part becomes in the chat template and in the prompt.
     *
     * @param imageParts   image placeholders the part renders as (1 for an image, the page count for a PDF, 0 for a
     *                     video)
     * @param videoPrompt  for a video, the text its placeholder becomes (the chunk prompts); null otherwise
     * @param items        its vision items in prompt order
     */
    public record PartPlan(MediaPart part, int imageParts, String videoPrompt, List<Item> items) {}

    /** The planned media of one request; holds open videos and PDFs until closed. */
    public static final class Plan implements AutoCloseable {
        private final List<PartPlan> parts;
        private final List<AutoCloseable> open;

        Plan(List<PartPlan> parts, List<AutoCloseable> open) {
            this.parts = List.copyOf(parts);
            this.open = open;
        }

        public List<PartPlan> parts() {
            return parts;
        }

        public List<Item> items() {
            List<Item> all = new ArrayList<>();
            for (PartPlan p : parts) {
                all.addAll(p.items());
            }
            return all;
        }

        public int visionTokens() {
            int n = 0;
            for (Item it : items()) {
                n += it.tokens();
            }
            return n;
        }

        /** Encodes every item in order (cache hits skip decoding and the tower). */
        public List<MediaSplice.Item> encode() {
            return encode(items().size());
        }

        /** Encodes the first {@code count} items in order. */
        public List<MediaSplice.Item> encode(int count) {
            List<MediaSplice.Item> out = new ArrayList<>();
            for (Item it : items().subList(0, count)) {
                VisionEmbeddings e = it.embeddings().get();
                if (e.tokens() != it.tokens()) {
                    throw new IllegalStateException(it.cacheKey() + ": planned " + it.tokens() + " tokens, encoded "
                            + e.tokens());
                }
                out.add(new MediaSplice.Item(e, it.contentHash()));
            }
            return out;
        }

        /**
         * Where the items encoded after the request is submitted begin: after the first. The first is encoded
         * before (a request whose only image cannot be decoded is refused before anything runs, streamed or not);
         * the rest (a PDF's other pages, a video's later chunks, further images) stream into the prefill, one at a
         * time, so the request holds its place in the engine meanwhile, and its abort (a hang-up) stops the encoding
         * at the next item instead of after the last page of a 50-page PDF. 0 when there are no items.
         */
        public int streamFrom() {
            return Math.min(1, items().size());
        }

        @Override
        public void close() {
            for (AutoCloseable c : open) {
                try {
                    c.close();
                } catch (Exception ignored) {
                    // native handles of a finished request: nothing left to save
                }
            }
        }
    }

    /**
     * Opens and sizes every part: image headers, PDF page boxes (nothing is rendered), video sampling plans. Throws
     * {@link MediaInputException} or {@link io.peregrine.engine.vision.decode.ImageDecodeException} for bad input
     * and for a request over the vision-token budget.
     */
    public Plan plan(List<MediaPart> parts) {
        List<PartPlan> out = new ArrayList<>();
        List<AutoCloseable> open = new ArrayList<>();
        try {
            int tokens = 0;
            for (MediaPart part : parts) {
                PartPlan p = switch (part) {
                    case MediaPart.Image img -> image(img);
                    case MediaPart.Pdf pdf -> pdf(pdf, open);
                    case MediaPart.Video v -> video(v, open);
                };
                for (Item it : p.items()) {
                    tokens += it.tokens();
                }
                if (tokens > budget.maxVisionTokens()) {
                    throw new MediaInputException(Reason.TOO_MANY_TOKENS, "the media of this request need at least "
                            + tokens + " vision tokens (through " + part.source() + "); the limit is "
                            + budget.maxVisionTokens());
                }
                out.add(p);
            }
            return new Plan(out, open);
        } catch (RuntimeException e) {
            new Plan(out, open).close();
            throw e;
        }
    }

    private PartPlan image(MediaPart.Image img) {
        ImageInput input = new ImageInput(img.bytes(), img.source());
        int tokens = images.numTokens(input);
        String key = input.sha256();
        return new PartPlan(img, 1, null, List.of(new Item(key, tokens, () -> images.encode(input).embeddings())));
    }

    /**
     * A page's tokens follow from its size, known from the page box without drawing: planning (and so counting)
     * renders nothing. A page is rendered only when its embeddings are wanted and not cached; the document stays
     * open with the plan until then.
     */
    private PartPlan pdf(MediaPart.Pdf pdf, List<AutoCloseable> open) {
        String sha = ContentHash.sha256(pdf.bytes());
        List<Item> items = new ArrayList<>();
        PdfPages pages = PdfPages.open(pdf.bytes(), pdf.source(), budget.pdf(), PageRaster.K25);
        open.add(pages);
        for (int i = 0; i < pages.pageCount(); i++) {
            int index = i;
            PdfPages.PageSize size = pages.size(i);
            String key = "pdf:" + sha + "/page=" + i;
            int tokens = preprocessor.planImage(size.width(), size.height()).numTokens();
            items.add(new Item(key, tokens, () -> cache.get(key, () -> {
                RgbFrame page;
                synchronized (pages) { // one request's document, but its items may be encoded from two threads
                    page = pages.render(index);
                }
                RgbImage rgb = new RgbImage(page.width(), page.height(), page.rgb());
                return encoder.encode(preprocessor.image(rgb, key));
            })));
        }
        return new PartPlan(pdf, items.size(), null, items);
    }

    private PartPlan video(MediaPart.Video v, List<AutoCloseable> open) {
        FfmpegVideo video = FfmpegVideo.open(v.bytes(), v.source(), budget.video());
        open.add(video);
        SamplingPlan plan = video.plan(videoConfig);
        int perChunk = Math.toIntExact(video.visionTokens(plan, videoConfig) / plan.chunks().size());
        List<Item> items = new ArrayList<>();
        for (ChunkPlan chunk : plan.chunks()) {
            String key = "video:" + video.chunkKey(chunk);
            SamplingPlan one = new SamplingPlan(plan.numFrames(), plan.fps(), List.of(chunk));
            items.add(new Item(key, perChunk, () -> cache.get(key, () -> {
                // Decodes only this chunk's frames (the video seeks), so a cached chunk costs no decoding.
                VideoChunk decoded;
                synchronized (video) {
                    decoded = video.chunks(one).next();
                }
                List<RgbImage> frames = new ArrayList<>(decoded.frames().size());
                for (VideoFrame f : decoded.frames()) {
                    frames.add(new RgbImage(f.image().width(), f.image().height(), f.image().rgb()));
                }
                return encoder.encode(preprocessor.videoChunk(frames, key));
            })));
        }
        return new PartPlan(v, 0, plan.promptText(), items);
    }
}
