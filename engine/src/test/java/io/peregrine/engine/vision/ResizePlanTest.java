package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.config.PreprocessorConfig;
import io.peregrine.engine.vision.preprocess.ResizePlan;
import org.junit.jupiter.api.Test;

/** The K2.5 resize rule on the spec's worked examples (§4.2, §4.3) and its edge cases. */
class ResizePlanTest {
    private static ResizePlan image(int w, int h) {
        return ResizePlan.of(w, h, PreprocessorConfig.DEFAULTS.inPatchLimit(), PreprocessorConfig.DEFAULTS);
    }

    @Test
    void specExamples() {
        ResizePlan hd = image(1920, 1080);
        assertEquals(78, hd.gridHeight());
        assertEquals(138, hd.gridWidth());
        assertEquals(2691, hd.numTokens());
        assertEquals(1369, image(1024, 1024).numTokens());
        ResizePlan phone = image(4032, 3024);
        assertEquals(2069, phone.newWidth());
        assertEquals(1551, phone.newHeight());
        assertEquals(112, phone.gridHeight());
        assertEquals(148, phone.gridWidth());
        assertEquals(4144, phone.numTokens());
        assertEquals(414, image(640, 480).numTokens());
        ResizePlan frame = ResizePlan.of(1280, 720, PreprocessorConfig.DEFAULTS.inPatchLimitEachFrame(), PreprocessorConfig.DEFAULTS);
        assertEquals(1202, frame.newWidth());
        assertEquals(676, frame.newHeight());
        assertEquals(1075, frame.numTokens());
        assertEquals(299, ResizePlan.of(640, 360, 4096, PreprocessorConfig.DEFAULTS).numTokens());
    }

    @Test
    void neverUpscalesAndPadsTinyImagesToOneToken() {
        ResizePlan tiny = image(1, 1);
        assertEquals(1, tiny.newWidth());
        assertEquals(27, tiny.padWidth());
        assertEquals(1, tiny.numTokens());
        assertTrue(!image(97, 61).resizes());
    }

    @Test
    void extremeAspectRatioHitsTheSideLimit() {
        ResizePlan strip = image(100_000, 20);
        // 100000 * (7168 / 100000) is 7167.999999999999 in double; Python's int() gives 7167 too.
        assertEquals(7167, strip.newWidth());
        assertEquals(1, strip.newHeight());
        assertTrue(strip.gridWidth() <= 512, "grid width " + strip.gridWidth());
        ResizePlan tall = image(30, 50_000);
        assertTrue(tall.gridHeight() <= 512, "grid height " + tall.gridHeight());
    }
}
