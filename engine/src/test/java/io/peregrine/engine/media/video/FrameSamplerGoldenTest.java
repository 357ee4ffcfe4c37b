package io.peregrine.engine.media.video;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.testing.TestData;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code split_video_chunks} against the golden cases (vision-golden {@code video_frame_sampling.cases}, exact). */
class FrameSamplerGoldenTest {

    private static JsonNode cases() throws IOException {
        JsonNode root = new ObjectMapper().readTree(
                TestData.golden("vision-golden", "vision_golden.json").toFile());
        return root.get("video_frame_sampling").get("cases");
    }

    @Test
    void allGoldenCasesMatchExactly() throws IOException {
        JsonNode cases = cases();
        assertEquals(14, cases.size(), "golden case count");
        for (JsonNode c : cases) {
            int numFrames = c.get("num_frames").asInt();
            double fps = c.get("fps").asDouble();
            String name = numFrames + " frames @ " + fps + " fps";
            SamplingPlan plan = FrameSampler.plan(numFrames, fps, VideoProcessorConfig.K25);

            assertEquals(ints(c.get("sampled_frame_indices")), plan.frameIndices(), name + ": indices");
            List<Integer> sizes = new ArrayList<>();
            List<String> prompts = new ArrayList<>();
            StringBuilder all = new StringBuilder();
            for (ChunkPlan chunk : plan.chunks()) {
                sizes.add(chunk.numFrames());
                prompts.add(chunk.prompt());
            }
            for (JsonNode p : c.get("chunk_prompts")) {
                all.append(p.asText());
            }
            assertEquals(ints(c.get("chunk_sizes")), sizes, name + ": chunk sizes");
            List<String> expected = new ArrayList<>();
            c.get("chunk_prompts").forEach(p -> expected.add(p.asText()));
            assertEquals(expected, prompts, name + ": chunk prompts");
            assertEquals(all.toString(), plan.promptText(), name + ": expanded placeholder");
        }
    }

    @Test
    void timestampsKeepTheReferenceQuirks() {
        TimestampMode m = TimestampMode.HH_MM_SS_FFF;
        assertEquals("00:00:02.102", m.format(63 / 29.97));
        assertEquals("01:01:01.500", m.format(3661.5));
        // Hours wrap at 24 (strftime of a UTC datetime).
        assertEquals("01:00:00.000", m.format(25 * 3600));
        // The clock rounds to microseconds, the millisecond part truncates: the reference prints this.
        assertEquals("00:00:03.999", m.format(2.9999996));
        assertEquals("01:05.250", TimestampMode.MM_SS_FFF.format(65.25));
        assertEquals("01:05", TimestampMode.MM_SS.format(65.25));
        assertThrows(IllegalArgumentException.class, () -> m.format(-1));
    }

    @Test
    void linspaceRoundsHalfToEven() {
        // linspace(0, 5, 3) = [0, 2.5, 5] -> [0, 2, 5]; linspace(0, 7, 3) = [0, 3.5, 7] -> [0, 4, 7]
        assertEquals(List.of(0, 2, 5), boxed(FrameSampler.linspaceRounded(5, 3)));
        assertEquals(List.of(0, 4, 7), boxed(FrameSampler.linspaceRounded(7, 3)));
        assertEquals(List.of(0), boxed(FrameSampler.linspaceRounded(9, 1)));
    }

    @Test
    void chunkTokensFollowThePerFrameBudget() {
        // vision-golden video chunk: 1280x720 -> 1202x676, grid 50x86, 1075 tokens; spec: 640x360 -> 299.
        ChunkResize r = ChunkResize.of(1280, 720, VideoProcessorConfig.K25);
        assertEquals(1202, r.newWidth());
        assertEquals(676, r.newHeight());
        assertEquals(50, r.gridHeight());
        assertEquals(86, r.gridWidth());
        assertEquals(1075, r.tokensPerChunk());
        assertEquals(299, ChunkResize.of(640, 360, VideoProcessorConfig.K25).tokensPerChunk());
    }

    @Test
    void badMetadataIsRejected() {
        assertThrows(IllegalArgumentException.class, () -> FrameSampler.plan(0, 30, VideoProcessorConfig.K25));
        assertThrows(IllegalArgumentException.class, () -> FrameSampler.plan(10, 0, VideoProcessorConfig.K25));
        assertThrows(IllegalArgumentException.class,
                () -> FrameSampler.plan(10, Double.NaN, VideoProcessorConfig.K25));
    }

    private static List<Integer> ints(JsonNode arr) {
        List<Integer> out = new ArrayList<>();
        arr.forEach(x -> out.add(x.asInt()));
        return out;
    }

    private static List<Integer> boxed(int[] a) {
        List<Integer> out = new ArrayList<>();
        for (int x : a) {
            out.add(x);
        }
        return out;
    }
}
