package io.peregrine.engine.checkpoint.demo;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.CheckpointException;
import io.peregrine.engine.checkpoint.CheckpointValidator;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Int4Group32;
import io.peregrine.engine.checkpoint.ModelSize;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.config.ModelConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoCheckpointTest {
    @TempDir
    static Path shared;
    static Path tiny;
    static List<DemoCheckpoint.WriteProgress> progress = new ArrayList<>();

    @BeforeAll
    static void writeTinyOnce() {
        tiny = DemoCheckpoint.ensure(shared.resolve("tiny"), "tiny", 7, progress::add);
    }

    @Test
    void tinyPresetReopensAndValidates() {
        try (Checkpoint ck = Checkpoint.open(tiny)) {
            ModelConfig c = ck.config();
            assertEquals("kimi_k25", c.modelType());
            assertEquals(163840, c.text().vocabSize());
            assertEquals(163584, c.bosTokenId());
            assertEquals(List.of(163585, 163586), c.eosTokenIds(), "config [EOS] plus generation_config <|im_end|>");
            assertEquals(163605, c.mediaPlaceholderTokenId());
            assertEquals(2, ck.files().size());
            assertTrue(c.vision().isPresent());
            assertTrue(c.isQuantized("language_model.model.layers.1.mlp.experts.0.up_proj"));
            assertEquals(List.of(), CheckpointValidator.validate(ck).problems());
            assertEquals(DType.F32, ck.tensor("language_model.model.layers.1.mlp.gate.e_score_correction_bias").dtype());
            assertTrue(ck.has("mm_projector.proj.2.weight"));
            long bytes = ck.tensors().values().stream().mapToLong(t -> t.data().byteSize()).sum();
            assertEquals(ModelSize.of(c).totalBytes(), bytes);
        }
        for (String f : DemoCheckpoint.TOKENIZER_FILES) {
            assertTrue(Files.isRegularFile(tiny.resolve(f)), f);
        }
    }

    @Test
    void tokenizerFilesAreTheRealOnesByteForByte() throws IOException {
        for (String f : DemoCheckpoint.TOKENIZER_FILES) {
            try (InputStream in = getClass().getResourceAsStream("/io/peregrine/engine/kimi-k25/" + f)) {
                assertArrayEquals(in.readAllBytes(), Files.readAllBytes(tiny.resolve(f)), f);
            }
        }
    }

    /** Pack (the writer) then {@link Int4Group32} unpack gives back the quantized values the generator drew. */
    @Test
    void int4RoundTrip() {
        String module = "language_model.model.layers.1.mlp.experts.3.down_proj";
        try (Checkpoint ck = Checkpoint.open(tiny)) {
            Int4Group32 w = Int4Group32.of(ck, module);
            DemoWeights.Rng rng = new DemoWeights.Rng(7, module + ".weight_packed");
            int seen = 0;
            int[] row = new int[w.cols()];
            for (int r = 0; r < w.rows(); r++) {
                rng.int4(row);
                for (int c = 0; c < w.cols(); c++) {
                    assertEquals(row[c], w.q(r, c), module + "[" + r + ", " + c + "]");
                    seen |= 1 << (row[c] + 8);
                }
            }
            assertEquals(13, Integer.bitCount(seen), "the values cover [-6, 6]");
            // Dequantized weights are exact in bf16 (5-bit scales) and have the intended spread.
            float[] d = w.dequantize();
            double sq = 0;
            for (float x : d) {
                assertEquals(x, Float.intBitsToFloat(Float.floatToRawIntBits(x) & 0xFFFF0000), 0f);
                sq += x * x;
            }
            double std = Math.sqrt(sq / d.length);
            double want = DemoWeights.linearStd(w.cols());
            assertEquals(want, std, want * 0.2, "std of the dequantized expert");
        }
    }

    @Test
    void weightsAreFiniteAndVaried() {
        try (Checkpoint ck = Checkpoint.open(tiny)) {
            for (Tensor t : ck.tensors().values()) {
                if (t.dtype() != DType.BF16 && t.dtype() != DType.F32) {
                    continue;
                }
                double sum = 0;
                double sq = 0;
                long n = Math.min(t.numel(), 100_000);
                for (long i = 0; i < n; i++) {
                    float x = t.getFloat(i);
                    assertTrue(Float.isFinite(x), t.name());
                    sum += x;
                    sq += (double) x * x;
                }
                double var = sq / n - (sum / n) * (sum / n);
                assertTrue(var > 1e-4, t.name() + " is not varied: variance " + var);
            }
            float[] emb = new float[64];
            Tensor e = ck.tensor("language_model.model.embed_tokens.weight");
            for (int i = 0; i < 64; i++) {
                emb[i] = e.getFloat(163586L * 64 + i);
            }
            double sq = 0;
            for (float x : emb) {
                sq += x * x;
            }
            assertEquals(1.0, Math.sqrt(sq / 64), 0.35, "embedding rows have std about 1");
        }
    }

    @Test
    void progressCoversEveryTensorAndByte() {
        DemoCheckpoint.WriteProgress last = progress.getLast();
        assertEquals(last.tensors(), last.tensorsDone());
        assertEquals(last.bytesTotal(), last.bytesDone());
        assertEquals(2, last.shards());
        assertTrue(progress.size() == last.tensors());
    }

    @Test
    void ensureIsIdempotentAndDeterministic() throws IOException {
        FileTime before = Files.getLastModifiedTime(tiny.resolve("model-00001-of-000002.safetensors"));
        assertEquals(tiny, DemoCheckpoint.ensure(tiny, "tiny", 7, p -> {
            throw new AssertionError("rewrote a complete checkpoint");
        }));
        assertEquals(before, Files.getLastModifiedTime(tiny.resolve("model-00001-of-000002.safetensors")));

        // The same seed writes the same bytes: an incomplete copy (marker gone) is rewritten identically.
        Path copy = shared.resolve("copy");
        DemoCheckpoint.write(copy, DemoPreset.TINY, 7, p -> {});
        Files.delete(copy.resolve("model-00002-of-000002.safetensors"));
        // A write killed long ago is cleaned up; one still in progress (recent files) is left alone.
        Path abandoned = Files.createDirectories(shared.resolve(".copy.writing-killed"));
        Files.writeString(abandoned.resolve("model-00001-of-000002.safetensors"), "partial");
        FileTime longAgo = FileTime.fromMillis(System.currentTimeMillis() - 3_600_000);
        Files.setLastModifiedTime(abandoned.resolve("model-00001-of-000002.safetensors"), longAgo);
        Files.setLastModifiedTime(abandoned, longAgo);
        Path running = Files.createDirectories(shared.resolve(".copy.writing-running"));
        DemoCheckpoint.ensure(copy, "tiny", 7, p -> {});
        assertTrue(Files.notExists(abandoned));
        assertTrue(Files.exists(running));
        Files.delete(running);
        for (String shard : List.of("model-00001-of-000002.safetensors", "model-00002-of-000002.safetensors",
                "model.safetensors.index.json", "config.json")) {
            assertEquals(-1L, Files.mismatch(tiny.resolve(shard), copy.resolve(shard)), shard);
        }
        try (Stream<Path> s = Files.list(shared)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary directories left");
        }
    }

    @Test
    void refusesToOverwriteSomethingElse() throws IOException {
        Path mine = shared.resolve("precious");
        Files.createDirectories(mine);
        Files.writeString(mine.resolve("notes.txt"), "keep me");
        CheckpointException e = assertThrows(CheckpointException.class, () -> DemoCheckpoint.ensure(mine, "tiny"));
        assertTrue(e.getMessage().contains("precious") && e.getMessage().contains("not a Peregrine demo"), e.getMessage());
        assertEquals("keep me", Files.readString(mine.resolve("notes.txt")));
        assertThrows(IllegalArgumentException.class, () -> DemoCheckpoint.ensure(shared.resolve("x"), "huge"));
    }

    @Test
    void defaultDirFollowsTheUserHome() {
        if (System.getenv(DemoCheckpoint.ENV_DIR) == null) {
            assertEquals(Path.of(System.getProperty("user.home"), ".cache", "peregrine", "demo"), DemoCheckpoint.defaultDir());
        } else {
            assertEquals(Path.of(System.getenv(DemoCheckpoint.ENV_DIR)), DemoCheckpoint.defaultDir());
        }
    }

    @Test
    void presetSizes() {
        // The default preset must stay small enough for 2 cores; bench must be beyond any CPU cache.
        long demo = ModelSize.of(configOf(DemoPreset.DEMO)).totalBytes();
        long bench = ModelSize.of(configOf(DemoPreset.BENCH)).totalBytes();
        assertTrue(demo < 300L << 20, "demo is " + demo);
        assertTrue(bench > 2L << 30 && bench < 4L << 30, "bench is " + bench);
    }

    private static ModelConfig configOf(DemoPreset p) {
        return io.peregrine.engine.config.ConfigParser.parse("config.json", DemoConfig.of(p), null);
    }
}
