package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import io.peregrine.engine.vision.preprocess.ResizePlan;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Resize plan, PIL-bicubic resize + pad, and pixel_values against vision-golden: all exact. */
class PreprocessGoldenTest {
    private final ImagePreprocessor pre = new ImagePreprocessor();

    @ParameterizedTest
    @ValueSource(strings = {"img1_97x61", "img2_300x200_rgba", "img3_640x480_gray", "img4_3000x2000",
            "video_chunk_4x1280x720"})
    void matchesGoldenExactly(String name) throws IOException {
        JsonNode item = VisionGolden.item(name);
        List<RgbImage> frames = new ArrayList<>();
        for (String f : VisionGolden.inputFiles(item)) {
            // The JDK's JPEG decoder is not libjpeg-turbo (JpegDecodeTest measures it); preprocessing is tested
            // on the pixels PIL decoded.
            frames.add(f.endsWith(".jpg") ? VisionGolden.img1AsPilDecodedIt() : VisionGolden.decode(f));
        }
        boolean video = item.get("type").asText().equals("video_chunk");
        PreprocessedImage out = video ? pre.videoChunk(frames, "test") : pre.image(frames.getFirst(), "test");

        JsonNode rc = item.get("resize_config");
        ResizePlan plan = out.plan();
        assertEquals(rc.get("new_width").asInt(), plan.newWidth(), "new_width");
        assertEquals(rc.get("new_height").asInt(), plan.newHeight(), "new_height");
        assertEquals(rc.get("pad_width").asInt(), plan.padWidth(), "pad_width");
        assertEquals(rc.get("pad_height").asInt(), plan.padHeight(), "pad_height");
        JsonNode g = item.get("grid_thw");
        assertEquals(new GridThw(g.get(0).asInt(), g.get(1).asInt(), g.get(2).asInt()), out.grid());
        assertEquals(item.get("num_tokens").asInt(), out.numTokens());
        assertEquals(item.get("num_patches").asInt(), out.numPatches());

        for (int t = 0; t < frames.size(); t++) {
            String png = video ? name + ".resized_padded.t" + t + ".png" : name + ".resized_padded.png";
            RgbImage expected = VisionGolden.decode(png);
            RgbImage actual = ImagePreprocessor.resizeAndPad(frames.get(t), plan);
            assertEquals(expected.width(), actual.width());
            assertEquals(expected.height(), actual.height());
            assertArrayEquals(expected.rgb(), actual.rgb(), png + " differs");
        }
        assertEquals(item.get("pixel_values_sha256_f32le").asText(), out.pixelValuesSha256(), "pixel_values sha256");
    }

    @ParameterizedTest
    @ValueSource(strings = {"img1_97x61", "img2_300x200_rgba"})
    void fullPixelValuesMatch(String name) throws IOException {
        RgbImage rgb = name.startsWith("img1") ? VisionGolden.img1AsPilDecodedIt()
                : VisionGolden.decode(VisionGolden.inputFiles(VisionGolden.item(name)).getFirst());
        float[] expected = Npy.read(VisionGolden.file(name + ".pixel_values.f32.npy")).floats();
        assertArrayEquals(expected, pre.image(rgb, "test").pixelValues());
    }
}
