package io.peregrine.engine.runtime;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.testing.Npy;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.VisionGolden;
import io.peregrine.engine.vision.VisionPipeline;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddingCache;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Golden README §4 {@code e2e_multimodal}: img2 through the vision encoder, spliced over the 88 expanded
 * {@code <|media_pad|>} positions, through the tiny text model: prefill logits and the 8 greedy steps within the
 * text tolerance, greedy ids identical. Then the same through the serving engine with prefill chunks that cut the
 * image, and the prefix cache keyed by the image's content.
 */
class MultimodalGoldenTest {
    private static final int BLOCK = 16;

    @TempDir
    static Path onnxCache;
    static Checkpoint checkpoint;
    static CpuBackend backend;
    static KimiTextModel model;
    static OnnxVisionEncoder encoder;
    static VisionPipeline.EncodedImage img2;
    static JsonNode golden;
    static int[] expanded;
    static int padStart;

    @BeforeAll
    static void load() {
        checkpoint = Checkpoint.open(TestData.tinyCheckpoint());
        backend = new CpuBackend(2);
        model = KimiTextModel.load(checkpoint, backend);
        encoder = OnnxVisionEncoder.open(checkpoint,
                new OnnxVisionEncoder.Options(onnxCache, 2, false, MoonVitGraph.Attention.FUSED, false));
        VisionPipeline pipeline = new VisionPipeline(new ImageDecoder(), new ImagePreprocessor(), encoder,
                new VisionEmbeddingCache(1 << 24));
        img2 = pipeline.encode(VisionGolden.input("inputs/img2_300x200_rgba.png"));
        golden = VisionGolden.json().get("e2e_multimodal");
        expanded = ints(golden.get("prompt_ids_expanded"));
        padStart = golden.get("media_pad_positions_expanded").get(0).asInt();
    }

    @AfterAll
    static void close() {
        encoder.close();
        backend.close();
        checkpoint.close();
    }

    static int[] ints(JsonNode a) {
        int[] out = new int[a.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = a.get(i).asInt();
        }
        return out;
    }

    static MediaSpan span(long hash) {
        return new MediaSpan(padStart, img2.numTokens(), img2.embeddings().hidden(), img2.embeddings().values(), hash);
    }

    @Test
    void splicedPrefillAndGreedyStepsMatchTheReference() {
        assertGoldenRun(img2);
    }

    /** The tower on the model's own backend (what serve runs on CUDA), here the CPU backend: the same greedy ids. */
    @Test
    void theBackendTowerOnTheModelsBackendGivesTheSameRun() {
        try (io.peregrine.engine.vision.encoder.MoonVitEncoder tower =
                     io.peregrine.engine.vision.encoder.MoonVitEncoder.load(checkpoint, backend)) {
            VisionPipeline pipeline = new VisionPipeline(new ImageDecoder(), new ImagePreprocessor(), tower,
                    new VisionEmbeddingCache(1 << 24));
            assertGoldenRun(pipeline.encode(VisionGolden.input("inputs/img2_300x200_rgba.png")));
        }
    }

    private void assertGoldenRun(VisionPipeline.EncodedImage img) {
        assertEquals(golden.get("num_image_tokens").asInt(), img.numTokens());
        int padEnd = golden.get("media_pad_positions_expanded").get(1).asInt();
        assertEquals(padStart + img.numTokens() - 1, padEnd);
        List<MediaSpan> media = List.of(new MediaSpan(padStart, img.numTokens(), img.embeddings().hidden(),
                img.embeddings().values(), 1));
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 16, BLOCK, model.config().kvCacheWidth());
        int[] table = new int[16];
        for (int i = 0; i < table.length; i++) {
            table[i] = 15 - i; // walk the cache backwards so paging mistakes show
        }
        float[][] prefill = model.forward(List.of(new SequenceSlice(expanded, 0, table, true,
                MediaSpan.rowsFor(media, 0, expanded.length))), cache).getFirst();
        float[][] want = Npy.readF32Matrix(VisionGolden.file("e2e_img2.prefill_logits.f32.npy"));
        assertEquals(want.length, prefill.length);
        for (int p = 0; p < want.length; p++) {
            assertLogitsClose(want[p], prefill[p], "prefill position " + p);
        }
        float[][] steps = Npy.readF32Matrix(VisionGolden.file("e2e_img2.greedy_step_logits.f32.npy"));
        int[] greedy = ints(golden.get("greedy_ids"));
        float[] last = prefill[prefill.length - 1];
        int[] got = new int[greedy.length];
        for (int k = 0; k < greedy.length; k++) {
            assertLogitsClose(steps[k], last, "greedy step " + k);
            got[k] = argmax(last);
            last = model.forward(List.of(new SequenceSlice(new int[] {got[k]}, expanded.length + k, table, false)), cache)
                    .getFirst()[0];
        }
        assertArrayEquals(greedy, got);
    }

    @Test
    void withoutTheSpliceTheLogitsDiffer() {
        // Guards the test above: the image rows must matter, or it would pass with the splice ignored.
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 8, BLOCK, model.config().kvCacheWidth());
        float[] plain = model.forward(List.of(new SequenceSlice(expanded, 0, new int[] {0, 1, 2, 3, 4, 5, 6}, false)),
                cache).getFirst()[0];
        float[][] want = Npy.readF32Matrix(VisionGolden.file("e2e_img2.prefill_logits.f32.npy"));
        double diff = 0;
        for (int i = 0; i < plain.length; i++) {
            diff = Math.max(diff, Math.abs(plain[i] - want[want.length - 1][i]));
        }
        assertTrue(diff > 0.01, "media rows changed the last logits by only " + diff);
    }

    @Test
    void servingEngineSplicesAcrossPrefillChunksAndCachesPrefixesByContent() throws Exception {
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 64, BLOCK, model.config().kvCacheWidth());
        // 24 tokens per step: the 88-row image at positions 6..93 is cut over five prefill chunks.
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(4, 24), 512, 16, List.of(), false);
        int[] greedy = ints(golden.get("greedy_ids"));
        try (ServingEngine engine = new ServingEngine(model, cache, cfg, new FakeDecoder(), EngineListener.NONE)) {
            Recorder first = run(engine, "a", span(0x1234), greedy.length);
            assertArrayEquals(greedy, first.tokens(0));
            assertEquals(0, first.scheduled().cachedPromptTokens());

            Recorder again = run(engine, "b", span(0x1234), greedy.length);
            assertArrayEquals(greedy, again.tokens(0));
            assertEquals((expanded.length - 1) / BLOCK * BLOCK, again.scheduled().cachedPromptTokens());

            // Same ids, other image content: block 0 already holds media, so nothing may be reused.
            float[] other = img2.embeddings().values().clone();
            for (int i = 0; i < other.length; i++) {
                other[i] = -other[i];
            }
            MediaSpan otherImage = new MediaSpan(padStart, img2.numTokens(), img2.embeddings().hidden(), other, 0x9999);
            Recorder different = run(engine, "c", otherImage, greedy.length);
            assertEquals(0, different.scheduled().cachedPromptTokens());
            assertFalse(java.util.Arrays.equals(greedy, different.tokens(0)), "another image gave the same greedy ids");
        }
    }

    @Test
    void aPreemptedImageRequestSplicesItsRowsAgainWhenItRecomputes() throws Exception {
        // 14 blocks of 16: two 105-token image prompts fill them; the first one's growth preempts the second, which
        // later recomputes its prompt (partly from the prefix cache, partly with the image rows spliced again).
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 14, BLOCK, model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(4, 256), 512, 16, List.of(), false);
        java.util.concurrent.atomic.AtomicInteger preemptions = new java.util.concurrent.atomic.AtomicInteger();
        EngineListener counting = new EngineListener() {
            @Override
            public void preempted(String requestId) {
                preemptions.incrementAndGet();
            }
        };
        int[] greedy = ints(golden.get("greedy_ids"));
        try (ServingEngine engine = new ServingEngine(model, cache, cfg, new FakeDecoder(), counting)) {
            Recorder a = new Recorder(1);
            Recorder b = new Recorder(1);
            engine.submit(new GenerationRequest("a", expanded, SamplingParams.greedy(40), null, List.of(span(5))), a);
            // Same rows under another content hash: b cannot borrow a's blocks, so once a's growth evicts b's
            // cached image blocks, b must recompute image positions.
            engine.submit(new GenerationRequest("b", expanded, SamplingParams.greedy(40), null, List.of(span(6))), b);
            a.await();
            b.await();
            assertTrue(preemptions.get() > 0, "no preemption happened; the test needs one");
            assertArrayEquals(greedy, java.util.Arrays.copyOf(a.tokens(0), greedy.length));
            assertArrayEquals(greedy, java.util.Arrays.copyOf(b.tokens(0), greedy.length));
            assertArrayEquals(a.tokens(0), b.tokens(0));
        }
    }

    @Test
    void mediaOutsideThePromptOrOfTheWrongWidthIsRejected() {
        LatentCache cache = new LatentCache(model.config().numHiddenLayers(), 16, BLOCK, model.config().kvCacheWidth());
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(4, 64), 512, 16, List.of(), false);
        try (ServingEngine engine = new ServingEngine(model, cache, cfg, new FakeDecoder(), EngineListener.NONE)) {
            MediaSpan past = new MediaSpan(100, 10, model.config().hiddenSize(), new float[10 * model.config().hiddenSize()], 1);
            var e = assertThrows(IllegalArgumentException.class, () -> engine.submit(
                    new GenerationRequest("x", expanded, SamplingParams.greedy(1), null, List.of(past)), new Recorder(1)));
            assertTrue(e.getMessage().contains("covers positions 100..109 of a prompt of 105"), e.getMessage());
            MediaSpan narrow = new MediaSpan(6, 2, 3, new float[6], 1);
            e = assertThrows(IllegalArgumentException.class, () -> engine.submit(
                    new GenerationRequest("y", expanded, SamplingParams.greedy(1), null, List.of(narrow)), new Recorder(1)));
            assertTrue(e.getMessage().contains("hidden size is 64"), e.getMessage());
        }
    }

    private static Recorder run(ServingEngine engine, String id, MediaSpan media, int maxTokens) throws Exception {
        Recorder r = new Recorder(1);
        engine.submit(new GenerationRequest(id, expanded, SamplingParams.greedy(maxTokens), null, List.of(media)), r);
        r.await();
        assertInstanceOf(EngineEvent.Finished.class, r.events().getLast(), () -> "events: " + r.events());
        return r;
    }

    static void assertLogitsClose(float[] expected, float[] actual, String what) {
        double maxAbs = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            maxDiff = Math.max(maxDiff, Math.abs(expected[i] - actual[i]));
        }
        // golden README §3.3: <= 1e-3 absolute and <= 1e-4 of max|logit| per row
        double limit = Math.min(1e-3, 1e-4 * maxAbs);
        assertTrue(maxDiff <= limit, what + ": max|Δ| " + maxDiff + " > " + limit);
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }
}
