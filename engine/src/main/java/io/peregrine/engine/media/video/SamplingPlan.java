package io.peregrine.engine.media.video;

import java.util.ArrayList;
import java.util.List;

/**
 * Which frames of a video the K2.5 processor looks at, grouped into chunks ({@code split_video_chunks}).
 *
 * @param numFrames frames in the video (container count)
 * @param fps       average frame rate the reference divides by
 */
public record SamplingPlan(int numFrames, double fps, List<ChunkPlan> chunks) {

    public SamplingPlan {
        chunks = List.copyOf(chunks);
    }

    /** All sampled source frame indices in order (the reference's {@code sampled_frame_ids}). */
    public List<Integer> frameIndices() {
        List<Integer> all = new ArrayList<>();
        for (ChunkPlan c : chunks) {
            all.addAll(c.frameIndices());
        }
        return all;
    }

    public int sampledFrames() {
        int n = 0;
        for (ChunkPlan c : chunks) {
            n += c.numFrames();
        }
        return n;
    }

    /** What the video placeholder in the rendered chat text becomes: the chunk prompts concatenated. */
    public String promptText() {
        StringBuilder sb = new StringBuilder();
        for (ChunkPlan c : chunks) {
            sb.append(c.prompt());
        }
        return sb.toString();
    }
}
