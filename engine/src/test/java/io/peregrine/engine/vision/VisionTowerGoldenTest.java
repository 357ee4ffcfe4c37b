package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.SafetensorsFile;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** MoonViT-3D + merger + projector on ONNX Runtime against vision-golden (tiny-k25 weights), abs <= 1e-4. */
class VisionTowerGoldenTest {
    static final double TOL = 1e-4;

    @TempDir
    static Path cache;
    static Checkpoint ckpt;
    static OnnxVisionEncoder encoder;
    static OnnxVisionEncoder plain;

    @BeforeAll
    static void open() {
        ckpt = Checkpoint.open(TestData.tinyCheckpoint());
        encoder = OnnxVisionEncoder.open(ckpt, new OnnxVisionEncoder.Options(cache, 2, false, MoonVitGraph.Attention.FUSED, true));
        plain = OnnxVisionEncoder.open(ckpt, new OnnxVisionEncoder.Options(cache, 2, false, MoonVitGraph.Attention.PLAIN, true));
    }

    @AfterAll
    static void close() {
        encoder.close();
        plain.close();
        ckpt.close();
    }

    static PreprocessedImage preprocess(String name) {
        JsonNode item = VisionGolden.item(name);
        List<RgbImage> frames = new ArrayList<>();
        for (String f : VisionGolden.inputFiles(item)) {
            frames.add(f.endsWith(".jpg") ? VisionGolden.img1AsPilDecodedIt() : VisionGolden.decode(f));
        }
        ImagePreprocessor pre = new ImagePreprocessor();
        return item.get("type").asText().equals("video_chunk") ? pre.videoChunk(frames, name) : pre.image(frames.getFirst(), name);
    }

    static double maxAbsDiff(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "length");
        double m = 0;
        for (int i = 0; i < expected.length; i++) {
            m = Math.max(m, Math.abs(expected[i] - actual[i]));
        }
        return m;
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }

    @ParameterizedTest
    @ValueSource(strings = {"img1_97x61", "img2_300x200_rgba", "img3_640x480_gray", "video_chunk_4x1280x720"})
    void towerAndProjectorMatchGolden(String name) throws IOException {
        PreprocessedImage img = preprocess(name);
        Map<String, float[]> out = encoder.run(img, Set.of(MoonVitGraph.TOWER_OUT, MoonVitGraph.PROJECTOR_OUT));
        float[] towerGolden = Npy.read(VisionGolden.file(name + ".vision_tower_out.f32.npy")).floats();
        float[] projGolden = Npy.read(VisionGolden.file(name + ".projector_out.f32.npy")).floats();
        double dt = maxAbsDiff(towerGolden, out.get(MoonVitGraph.TOWER_OUT));
        double dp = maxAbsDiff(projGolden, out.get(MoonVitGraph.PROJECTOR_OUT));
        System.out.printf("%s: tower max|diff| %.3g (max|v| %.3g), projector max|diff| %.3g (max|v| %.3g)%n", name, dt,
                maxAbs(towerGolden), dp, maxAbs(projGolden));
        assertTrue(dt <= TOL, name + " vision_tower_out max|diff| " + dt);
        assertTrue(dp <= TOL, name + " projector_out max|diff| " + dp);
        assertEquals(img.numTokens() * 64, out.get(MoonVitGraph.PROJECTOR_OUT).length);
    }

    /** The plain MatMul/Softmax graph is the reference twin of the fused attention kernel. */
    @ParameterizedTest
    @ValueSource(strings = {"img1_97x61", "img2_300x200_rgba"})
    void plainAttentionGraphAgreesWithGoldenAndFused(String name) throws IOException {
        PreprocessedImage img = preprocess(name);
        float[] fused = encoder.run(img, Set.of(MoonVitGraph.PROJECTOR_OUT)).get(MoonVitGraph.PROJECTOR_OUT);
        float[] ref = plain.run(img, Set.of(MoonVitGraph.PROJECTOR_OUT)).get(MoonVitGraph.PROJECTOR_OUT);
        float[] golden = Npy.read(VisionGolden.file(name + ".projector_out.f32.npy")).floats();
        assertTrue(maxAbsDiff(golden, ref) <= TOL, "plain vs golden " + maxAbsDiff(golden, ref));
        assertTrue(maxAbsDiff(ref, fused) <= TOL, "fused vs plain " + maxAbsDiff(ref, fused));
    }

    @Test
    void encodeReturnsProjectorRowsPerToken() throws IOException {
        PreprocessedImage img = preprocess("img1_97x61");
        VisionEmbeddings emb = encoder.encode(img);
        assertEquals(12, emb.tokens());
        assertEquals(64, emb.hidden());
        assertEquals(64, encoder.outputHidden());
        float[] golden = Npy.read(VisionGolden.file("img1_97x61.projector_out.f32.npy")).floats();
        assertTrue(maxAbsDiff(golden, emb.values()) <= TOL);
        assertEquals(golden[5 * 64 + 3], emb.get(5, 3), TOL);
    }

    @Test
    void concurrentEncodesGiveTheSameRows() throws Exception {
        PreprocessedImage a = preprocess("img1_97x61");
        PreprocessedImage b = preprocess("img2_300x200_rgba");
        float[] expectA = encoder.encode(a).values();
        float[] expectB = encoder.encode(b).values();
        try (var pool = java.util.concurrent.Executors.newFixedThreadPool(4)) {
            List<java.util.concurrent.Future<float[]>> fs = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                PreprocessedImage img = i % 2 == 0 ? a : b;
                fs.add(pool.submit(() -> encoder.encode(img).values()));
            }
            for (int i = 0; i < fs.size(); i++) {
                assertEquals(0.0, maxAbsDiff(i % 2 == 0 ? expectA : expectB, fs.get(i).get()));
            }
        }
    }

    @Test
    void rejectsChunksLongerThanTheTemporalTable() {
        RgbImage black = new RgbImage(28, 28, new byte[28 * 28 * 3]);
        PreprocessedImage five = new ImagePreprocessor().videoChunk(List.of(black, black, black, black, black), "five");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> encoder.encode(five));
        assertTrue(e.getMessage().contains("5 frames"), e.getMessage());
    }

    @Test
    void img1IntermediatesMatchGolden() {
        PreprocessedImage img = preprocess("img1_97x61");
        List<String> names = OnnxVisionEncoder.intermediateNames(encoder.config());
        Map<String, float[]> out = encoder.run(img, Set.copyOf(names));
        try (Arena arena = Arena.ofConfined()) {
            SafetensorsFile golden = SafetensorsFile.open(VisionGolden.file("img1_97x61.vision_intermediates.safetensors"), arena);
            for (String n : names) {
                float[] expected = golden.tensor(n).toFloatArray();
                double d = maxAbsDiff(expected, out.get(n));
                assertTrue(d <= TOL, n + " max|diff| " + d);
            }
        }
    }
}
