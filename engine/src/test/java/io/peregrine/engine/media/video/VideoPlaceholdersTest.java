package io.peregrine.engine.media.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import org.junit.jupiter.api.Test;

class VideoPlaceholdersTest {

    @Test
    void eachPlaceholderBecomesItsVideosChunkPrompts() {
        SamplingPlan a = FrameSampler.plan(125, 25.0, VideoProcessorConfig.K25);
        SamplingPlan b = FrameSampler.plan(2, 1.0, VideoProcessorConfig.K25);
        String text = "<|im_user|>user<|im_middle|>" + VideoPlaceholders.PLACEHOLDER + "What?"
                + VideoPlaceholders.PLACEHOLDER + "<|im_end|>";
        String expected = "<|im_user|>user<|im_middle|>"
                + "00:00:00.000" + ChunkPlan.PROMPT_SUFFIX + "00:00:02.200" + ChunkPlan.PROMPT_SUFFIX
                + "00:00:04.400" + ChunkPlan.PROMPT_SUFFIX + "What?" + "00:00:00.000" + ChunkPlan.PROMPT_SUFFIX
                + "<|im_end|>";
        assertEquals(expected, VideoPlaceholders.expand(text, List.of(a, b)));
        assertEquals("no video", VideoPlaceholders.expand("no video", List.of()));
        assertThrows(IllegalArgumentException.class, () -> VideoPlaceholders.expand(text, List.of(a)));
        assertThrows(IllegalArgumentException.class, () -> VideoPlaceholders.expand("x", List.of(a)));
    }

    @Test
    void shippedPreprocessorConfigIsTheK25Default() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/io/peregrine/engine/kimi-k25/preprocessor_config.json")) {
            var cfg = new ObjectMapper().readTree(in).get("media_proc_cfg");
            assertEquals(VideoProcessorConfig.K25, VideoProcessorConfig.fromMediaProcConfig(cfg));
            ((com.fasterxml.jackson.databind.node.ObjectNode) cfg).put("in_patch_limit_video", 8192);
            assertThrows(IllegalArgumentException.class, () -> VideoProcessorConfig.fromMediaProcConfig(cfg));
        }
    }
}
