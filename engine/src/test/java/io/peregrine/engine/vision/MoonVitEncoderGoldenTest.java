package io.peregrine.engine.vision;

import static io.peregrine.engine.vision.VisionTowerGoldenTest.maxAbsDiff;
import static io.peregrine.engine.vision.VisionTowerGoldenTest.preprocess;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.testing.TestData;
import io.peregrine.engine.vision.encoder.MoonVitEncoder;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * MoonViT-3D + merger + projector on the CPU {@link io.peregrine.engine.backend.Backend} against vision-golden
 * (tiny-k25 weights, abs ≤ 1e-4) and against the ONNX Runtime path, and several items in one pass against one at a
 * time (bit for bit: every per-patch operation is row-wise and attention stays inside each item).
 */
class MoonVitEncoderGoldenTest {
    static final double TOL = VisionTowerGoldenTest.TOL;
    static final List<String> ITEMS = List.of("img1_97x61", "img2_300x200_rgba", "img3_640x480_gray", "video_chunk_4x1280x720");

    @TempDir
    static Path cache;
    static Checkpoint ckpt;
    static CpuBackend backend;
    static MoonVitEncoder tower;

    @BeforeAll
    static void open() {
        ckpt = Checkpoint.open(TestData.tinyCheckpoint());
        backend = new CpuBackend(2);
        tower = MoonVitEncoder.load(ckpt, backend);
    }

    @AfterAll
    static void close() {
        tower.close();
        backend.close();
        ckpt.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"img1_97x61", "img2_300x200_rgba", "img3_640x480_gray", "video_chunk_4x1280x720"})
    void towerAndProjectorMatchGolden(String name) throws IOException {
        PreprocessedImage img = preprocess(name);
        MoonVitEncoder.ItemOutput out = tower.towerAndProjector(List.of(img)).getFirst();
        float[] towerGolden = Npy.read(VisionGolden.file(name + ".vision_tower_out.f32.npy")).floats();
        float[] projGolden = Npy.read(VisionGolden.file(name + ".projector_out.f32.npy")).floats();
        double dt = maxAbsDiff(towerGolden, out.towerOut());
        double dp = maxAbsDiff(projGolden, out.embeddings().values());
        System.out.printf("backend tower %s: tower max|diff| %.3g, projector max|diff| %.3g%n", name, dt, dp);
        assertTrue(dt <= TOL, name + " vision_tower_out max|diff| " + dt);
        assertTrue(dp <= TOL, name + " projector_out max|diff| " + dp);
        assertEquals(img.numTokens(), out.embeddings().tokens());
    }

    @Test
    void agreesWithTheOnnxPath() {
        try (OnnxVisionEncoder onnx = OnnxVisionEncoder.open(ckpt, OnnxVisionEncoder.Options.cpu(cache))) {
            for (String name : List.of("img1_97x61", "img2_300x200_rgba")) {
                PreprocessedImage img = preprocess(name);
                float[] ref = onnx.run(img, Set.of(MoonVitGraph.PROJECTOR_OUT)).get(MoonVitGraph.PROJECTOR_OUT);
                double d = maxAbsDiff(ref, tower.encode(img).values());
                assertTrue(d <= TOL, name + ": backend tower vs ONNX max|diff| " + d);
            }
        }
    }

    /**
     * Images of different sizes, a 3-frame and a 4-frame video chunk in one pass, in two orders: the same bits as
     * alone. (The golden 1280x720 chunk is 17,200 patches: too slow to run three times here.)
     */
    @Test
    void oneBatchedPassEqualsOneItemAtATimeBitForBit() {
        List<PreprocessedImage> items = new java.util.ArrayList<>(
                ITEMS.subList(0, 3).stream().map(VisionTowerGoldenTest::preprocess).toList());
        items.add(new ImagePreprocessor().videoChunk(noise(4, 150, 90), "noise4"));
        items.add(new ImagePreprocessor().videoChunk(noise(3, 64, 100), "noise3"));
        List<float[]> alone = items.stream().map(i -> tower.encode(i).values()).toList();
        List<VisionEmbeddings> batched = tower.encodeAll(items);
        for (int i = 0; i < items.size(); i++) {
            assertArrayEquals(alone.get(i), batched.get(i).values(), "item " + i + " batched");
        }
        List<VisionEmbeddings> reversed = tower.encodeAll(items.reversed());
        for (int i = 0; i < items.size(); i++) {
            assertArrayEquals(alone.get(i), reversed.get(items.size() - 1 - i).values(), "item " + i + " reversed");
        }
    }

    static List<RgbImage> noise(int frames, int width, int height) {
        java.util.Random rnd = new java.util.Random(frames * 1000L + width);
        List<RgbImage> out = new java.util.ArrayList<>();
        for (int f = 0; f < frames; f++) {
            byte[] rgb = new byte[width * height * 3];
            rnd.nextBytes(rgb);
            out.add(new RgbImage(width, height, rgb));
        }
        return out;
    }

    @Test
    void rejectsChunksLongerThanTheTemporalTable() {
        RgbImage black = new RgbImage(28, 28, new byte[28 * 28 * 3]);
        PreprocessedImage five = new ImagePreprocessor().videoChunk(List.of(black, black, black, black, black), "five");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> tower.encode(five));
        assertTrue(e.getMessage().contains("5 frames"), e.getMessage());
    }
}
