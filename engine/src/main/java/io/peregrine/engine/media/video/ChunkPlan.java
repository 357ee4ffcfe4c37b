package io.peregrine.engine.media.video;

import java.util.List;

/**
 * One video chunk before decoding: which source frames it holds and the text the prompt gets for it.
 *
 * @param index        chunk number, 0-based
 * @param frameIndices source frame indices (presentation order), 1..temporal_merge_kernel_size of them, ascending
 * @param startSeconds {@code frameIndices[0] / fps}, the reference's chunk time (frame index over average fps)
 * @param timestamp    {@code startSeconds} formatted by the timestamp mode, e.g. "00:00:02.102"
 */
public record ChunkPlan(int index, List<Integer> frameIndices, double startSeconds, String timestamp) {

    /** The media block the chat placeholder expands to for this chunk (no newline inside, as the reference). */
    public static final String PROMPT_SUFFIX = "<|media_begin|>video<|media_content|><|media_pad|><|media_end|>";

    public ChunkPlan {
        frameIndices = List.copyOf(frameIndices);
        if (frameIndices.isEmpty()) {
            throw new IllegalArgumentException("chunk " + index + " has no frames");
        }
    }

    public String prompt() {
        return timestamp + PROMPT_SUFFIX;
    }

    public int numFrames() {
        return frameIndices.size();
    }
}
