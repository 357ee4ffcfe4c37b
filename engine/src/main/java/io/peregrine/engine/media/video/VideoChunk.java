package io.peregrine.engine.media.video;

import java.util.List;

/** One vision item of a video: the chunk's plan and its 1..4 decoded frames, in order. */
public record VideoChunk(ChunkPlan plan, List<VideoFrame> frames) {

    public VideoChunk {
        frames = List.copyOf(frames);
        if (frames.size() != plan.numFrames()) {
            throw new IllegalArgumentException("chunk " + plan.index() + " plans " + plan.numFrames()
                    + " frames but holds " + frames.size());
        }
    }

    public String prompt() {
        return plan.prompt();
    }
}
