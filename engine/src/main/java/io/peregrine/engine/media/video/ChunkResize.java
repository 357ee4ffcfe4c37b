package io.peregrine.engine.media.video;

import io.peregrine.engine.vision.preprocess.ResizePlan;

/**
 * Where every frame of a chunk goes ({@code navit_resize_video} with a chunk's fps 1 and sample fps infinite, i.e.
 * {@code navit_resize_image} with {@code in_patch_limit_each_frame}), computed from the first frame's size:
 * resized to {@code newWidth x newHeight} (never up), zero-padded right and bottom to multiples of 28.
 *
 * <p>The image preprocessor's {@link ResizePlan} with the per-frame patch budget; kept as its own type so the token
 * count of a video is known from its header, before any frame is decoded.
 */
public record ChunkResize(int width, int height, int newWidth, int newHeight, int padWidth, int padHeight,
                          int patchSize, int mergeKernelSize) {

    public static ChunkResize of(int width, int height, VideoProcessorConfig cfg) {
        // One rule for images and frames: only the patch budget differs (in_patch_limit_each_frame).
        ResizePlan r = ResizePlan.of(width, height, cfg.inPatchLimitEachFrame(), cfg.patchSize(),
                cfg.mergeKernelSize(), cfg.patchLimitOnOneSide());
        return new ChunkResize(width, height, r.newWidth(), r.newHeight(), r.padWidth(), r.padHeight(), r.patchSize(),
                r.mergeKernelSize());
    }

    public int gridHeight() {
        return (newHeight + padHeight) / patchSize;
    }

    public int gridWidth() {
        return (newWidth + padWidth) / patchSize;
    }

    /** LM positions of one chunk: the 2x2 merge and the mean over time leave (gh/2)(gw/2), whatever t is. */
    public int tokensPerChunk() {
        return (gridHeight() / mergeKernelSize) * (gridWidth() / mergeKernelSize);
    }
}
