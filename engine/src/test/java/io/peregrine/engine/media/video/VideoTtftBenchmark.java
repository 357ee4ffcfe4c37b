package io.peregrine.engine.media.video;

import static org.bytedeco.ffmpeg.global.avutil.AV_PIX_FMT_YUV420P;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.chat.ChatMessage;
import io.peregrine.engine.chat.ChatTemplate;
import io.peregrine.engine.chat.OpenAiShapes;
import io.peregrine.engine.chat.PromptEncoder;
import io.peregrine.engine.chat.RenderOptions;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.demo.DemoCheckpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.media.MediaSplice;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.runtime.EngineConfig;
import io.peregrine.engine.runtime.EngineEvent;
import io.peregrine.engine.runtime.EngineListener;
import io.peregrine.engine.runtime.GenerationRequest;
import io.peregrine.engine.runtime.ServingEngine;
import io.peregrine.engine.runtime.TokenDecoder;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.PendingMedia;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.tokenizer.KimiTokenizer;
import io.peregrine.engine.tokenizer.SpecialTextPolicy;
import io.peregrine.engine.vision.RgbImage;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark, not a test (issue 8): a 720p H.264 video (default one minute at 30 fps) from bytes to the first token on
 * a demo checkpoint, split into open + plan, decode (sampled frames only, chunk by chunk), preprocess (resize, pad,
 * normalise, patchify), encode (MoonViT + merger + projector on ONNX Runtime, CPU) and prefill (the text model over
 * the rendered, spliced prompt, 2048 tokens per forward). The demo checkpoints' towers and text models are small,
 * so encode and prefill here say little about the real model; decode and preprocess are at real size.
 * Each run is done twice: serial (every chunk encoded, then the prompt prefilled, as before the prefill could
 * overlap the encode) and streamed (the serving engine gets the request once the first chunk is encoded, with the
 * later chunks as {@link PendingMedia} that a producer thread completes while the engine prefills up to the first
 * missing one: what the server does).
 * Arguments: [seconds, default 60] [fps, default 30] [demo preset, default demo] [runs, default 2].
 * Run (from the repository root, after {@code mvn -o -q -pl engine -am test-compile}):
 * <pre>
 * mvn -o -q -pl engine dependency:build-classpath -Dmdep.outputFile=/tmp/cp.txt -Dmdep.includeScope=test
 * java --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xmx8g \
 *   -cp engine/target/test-classes:engine/target/classes:$(cat /tmp/cp.txt) \
 *   io.peregrine.engine.media.video.VideoTtftBenchmark 60 30 demo 2
 * </pre>
 */
public final class VideoTtftBenchmark {
    private VideoTtftBenchmark() {}

    public static void main(String[] args) throws Exception {
        int seconds = args.length > 0 ? Integer.parseInt(args[0]) : 60;
        int fps = args.length > 1 ? Integer.parseInt(args[1]) : 30;
        String preset = args.length > 2 ? args[2] : "demo";
        int runs = args.length > 3 ? Integer.parseInt(args[3]) : 2;
        int w = 1280;
        int h = 720;
        int cores = Runtime.getRuntime().availableProcessors();
        System.out.printf("cores %d, java %s, demo preset %s%n", cores, Runtime.version(), preset);
        Path dir = Files.createTempDirectory("peregrine-video-ttft");
        long[] pts = new long[seconds * fps];
        for (int i = 0; i < pts.length; i++) {
            pts[i] = Math.round(i * 1000.0 / fps);
        }
        long t = System.nanoTime();
        byte[] mp4 = TestVideos.writeWithGop(dir.resolve("bench.mp4"), "mp4", "libopenh264", AV_PIX_FMT_YUV420P, w, h,
                pts, 2 * fps, i -> frame(i, w, h));
        System.out.printf("wrote %d s of %dx%d H.264: %.1f MB in %.1f s (not timed)%n", seconds, w, h, mp4.length / 1e6,
                (System.nanoTime() - t) / 1e9);

        Path ckDir = DemoCheckpoint.ensure(dir.resolve(preset), preset);
        try (Checkpoint ck = Checkpoint.open(ckDir); CpuBackend backend = new CpuBackend(cores);
             OnnxVisionEncoder encoder = OnnxVisionEncoder.open(ck,
                     new OnnxVisionEncoder.Options(dir.resolve("onnx"), 0, false, MoonVitGraph.Attention.FUSED, false))) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            KimiTokenizer tokenizer = KimiTokenizer.fromDirectory(ckDir);
            PromptEncoder prompts = new PromptEncoder(ChatTemplate.fromCheckpoint(ckDir), tokenizer);
            ImagePreprocessor preprocessor = new ImagePreprocessor();
            for (int run = 0; run < runs; run++) {
                long a = System.nanoTime();
                long decode = 0;
                long preprocess = 0;
                long encode = 0;
                List<MediaSplice.Item> items = new ArrayList<>();
                SamplingPlan plan;
                long opened;
                try (FfmpegVideo video = FfmpegVideo.open(mp4, "bench.mp4", VideoLimits.DEFAULT)) {
                    plan = video.plan(VideoProcessorConfig.K25);
                    opened = System.nanoTime() - a;
                    Iterator<VideoChunk> it = video.chunks(plan);
                    while (it.hasNext()) {
                        long c0 = System.nanoTime();
                        VideoChunk chunk = it.next();
                        List<RgbImage> frames = new ArrayList<>();
                        for (VideoFrame f : chunk.frames()) {
                            frames.add(new RgbImage(f.image().width(), f.image().height(), f.image().rgb()));
                        }
                        long c1 = System.nanoTime();
                        PreprocessedImage px = preprocessor.videoChunk(frames, "bench");
                        long c2 = System.nanoTime();
                        items.add(new MediaSplice.Item(encoder.encode(px), chunk.plan().index()));
                        long c3 = System.nanoTime();
                        decode += c1 - c0;
                        preprocess += c2 - c1;
                        encode += c3 - c2;
                    }
                }
                long p0 = System.nanoTime();
                List<ChatMessage> messages = OpenAiShapes.messages(List.of(Map.of("role", "user", "content", List.of(
                        Map.of("type", "video_url", "video_url", Map.of("url", "bench.mp4")),
                        Map.of("type", "text", "text", "What happens in this video?")))));
                var rendered = prompts.encode(messages, List.of(), new RenderOptions(true, false, false),
                        SpecialTextPolicy.AS_TEXT).rendered().expandVideoTexts(List.of(plan.promptText()));
                int[] ids = rendered.tokenize(tokenizer, SpecialTextPolicy.AS_TEXT);
                MediaSplice.Spliced spliced = MediaSplice.expand(ids, tokenizer.requireSpecialId("<|media_pad|>"), items);
                long p1 = System.nanoTime();
                int[] prompt = spliced.ids();
                int block = 16;
                int blocks = (prompt.length + 1 + block - 1) / block;
                LatentCache cache = new LatentCache(model.config().numHiddenLayers(), blocks, block,
                        model.config().kvCacheWidth());
                int[] table = new int[blocks];
                for (int i = 0; i < blocks; i++) {
                    table[i] = i;
                }
                float[] last = null;
                for (int start = 0; start < prompt.length; start += 2048) {
                    int end = Math.min(prompt.length, start + 2048);
                    int[] chunk = java.util.Arrays.copyOfRange(prompt, start, end);
                    float[][] rows = MediaSpan.rowsFor(spliced.spans(), start, end);
                    last = model.forward(List.of(new SequenceSlice(chunk, start, table, false, rows)), cache).getFirst()[0];
                }
                int first = 0;
                for (int i = 1; i < last.length; i++) {
                    first = last[i] > last[first] ? i : first;
                }
                long p2 = System.nanoTime();
                System.out.printf("run %d (serial): %d chunks, %d vision tokens, prompt %d tokens, first token %d%n", run,
                        items.size(), prompt.length - ids.length + items.size(), prompt.length, first);
                System.out.printf("  open+plan %8.1f ms%n  decode    %8.1f ms%n  preprocess%8.1f ms%n  encode    %8.1f ms%n"
                                + "  template  %8.1f ms%n  prefill   %8.1f ms (%.0f tokens/s)%n  TTFT      %8.1f ms%n",
                        opened / 1e6, decode / 1e6, preprocess / 1e6, encode / 1e6, (p1 - p0) / 1e6, (p2 - p1) / 1e6,
                        prompt.length / ((p2 - p1) / 1e9), (p2 - a) / 1e6);
                streamed(run, mp4, model, tokenizer, prompts, preprocessor, encoder);
            }
        }
    }

    /** The same request through the serving engine, prefilling while the later chunks encode. */
    private static void streamed(int run, byte[] mp4, KimiTextModel model, KimiTokenizer tokenizer,
                                 PromptEncoder prompts, ImagePreprocessor preprocessor, OnnxVisionEncoder encoder)
            throws Exception {
        long a = System.nanoTime();
        FfmpegVideo video = FfmpegVideo.open(mp4, "bench.mp4", VideoLimits.DEFAULT);
        SamplingPlan plan = video.plan(VideoProcessorConfig.K25);
        Iterator<VideoChunk> it = video.chunks(plan);
        VisionEmbeddings first = encodeChunk(it.next(), preprocessor, encoder);
        long firstChunk = System.nanoTime() - a;
        List<ChatMessage> messages = OpenAiShapes.messages(List.of(Map.of("role", "user", "content", List.of(
                Map.of("type", "video_url", "video_url", Map.of("url", "bench.mp4")),
                Map.of("type", "text", "text", "What happens in this video?")))));
        int[] ids = prompts.encode(messages, List.of(), new RenderOptions(true, false, false), SpecialTextPolicy.AS_TEXT)
                .rendered().expandVideoTexts(List.of(plan.promptText())).tokenize(tokenizer, SpecialTextPolicy.AS_TEXT);
        int perChunk = first.tokens();
        List<MediaSplice.Later> later = new ArrayList<>();
        for (int c = 1; c < plan.chunks().size(); c++) {
            later.add(new MediaSplice.Later(perChunk, c));
        }
        MediaSplice.Streamed spliced = MediaSplice.expand(ids, tokenizer.requireSpecialId("<|media_pad|>"),
                List.of(new MediaSplice.Item(first, 0)), later, first.hidden());
        int[] prompt = spliced.ids();
        int block = 16;
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), (prompt.length + 1 + block - 1) / block,
                block, model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(1, 2048), prompt.length + 1, 4, List.of(), false);
        TokenDecoder decoder = new TokenDecoder() {
            @Override
            public byte[] bytes(int tokenId) {
                return new byte[0];
            }

            @Override
            public boolean isSpecial(int tokenId) {
                return false;
            }
        };
        PendingMedia pending = spliced.pending();
        CountDownLatch done = new CountDownLatch(1);
        AtomicLong firstToken = new AtomicLong();
        AtomicLong firstId = new AtomicLong(-1);
        AtomicLong encodedAll = new AtomicLong();
        AtomicLong prefilledBeforeEncoded = new AtomicLong();
        AtomicLong prefilled = new AtomicLong();
        EngineListener steps = new EngineListener() {
            @Override
            public void step(int sequences, int tokens, long nanos) {
                prefilled.addAndGet(tokens);
            }
        };
        try (ServingEngine engine = new ServingEngine(model, cache, cfg, decoder, steps)) {
            engine.submit(new GenerationRequest("bench", prompt, SamplingParams.greedy(1), null, spliced.spans(),
                    pending), e -> {
                if (e instanceof EngineEvent.Tokens t && firstToken.get() == 0) {
                    firstToken.set(System.nanoTime());
                    firstId.set(t.tokenIds()[0]);
                }
                if (e instanceof EngineEvent.Finished || e instanceof EngineEvent.Failed) {
                    done.countDown();
                }
            });
            Thread producer = Thread.ofPlatform().name("bench-producer").start(() -> {
                try (video) {
                    for (int c = 0; it.hasNext(); c++) {
                        pending.complete(c, encodeChunk(it.next(), preprocessor, encoder).values());
                    }
                    encodedAll.set(System.nanoTime());
                    prefilledBeforeEncoded.set(prefilled.get());
                }
            });
            done.await();
            producer.join();
        }
        System.out.printf("run %d (streamed): %d chunks, prompt %d tokens, first token %d%n  first chunk %8.1f ms (open, plan, decode,"
                        + " preprocess, encode)%n  all encoded %8.1f ms (%d of %d prompt tokens prefilled by then)%n"
                        + "  TTFT        %8.1f ms%n", run, plan.chunks().size(), prompt.length, firstId.get(), firstChunk / 1e6,
                (encodedAll.get() - a) / 1e6, prefilledBeforeEncoded.get(), prompt.length, (firstToken.get() - a) / 1e6);
    }

    private static VisionEmbeddings encodeChunk(VideoChunk chunk, ImagePreprocessor preprocessor,
                                                OnnxVisionEncoder encoder) {
        List<RgbImage> frames = new ArrayList<>();
        for (VideoFrame f : chunk.frames()) {
            frames.add(new RgbImage(f.image().width(), f.image().height(), f.image().rgb()));
        }
        return encoder.encode(preprocessor.videoChunk(frames, "bench"));
    }

    /** Moving diagonal bands, so inter-frame coding and the encoder see changing content. */
    private static byte[] frame(int i, int w, int h) {
        byte[] rgb = new byte[w * h * 3];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int o = (y * w + x) * 3;
                int band = ((x + y + 4 * i) / 40) & 7;
                rgb[o] = (byte) (band * 32);
                rgb[o + 1] = (byte) (y / 3 + i);
                rgb[o + 2] = (byte) (255 - band * 30);
            }
        }
        return rgb;
    }
}
