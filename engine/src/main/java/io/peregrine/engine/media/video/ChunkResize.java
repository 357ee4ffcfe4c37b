package io.peregrine.engine.media.video;

/**
 * Where every frame of a chunk goes ({@code navit_resize_video} with a chunk's fps 1 and sample fps infinite, i.e.
 * {@code navit_resize_image} with {@code in_patch_limit_each_frame}), computed from the first frame's size:
 * resized to {@code newWidth x newHeight} (never up), zero-padded right and bottom to multiples of 28.
 *
 * <p>The same rule as the image preprocessor's resize plan with a different patch budget; it lives here too so the
 * token count of a video is known from its header, before any frame is decoded.
 */
public record ChunkResize(int width, int height, int newWidth, int newHeight, int padWidth, int padHeight,
                          int patchSize, int mergeKernelSize) {

    public static ChunkResize of(int width, int height, VideoProcessorConfig cfg) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("frame size must be positive: " + width + "x" + height);
        }
        int p = cfg.patchSize();
        double patches = (double) Math.max(1, width / p) * Math.max(1, height / p);
        double s1 = Math.sqrt(cfg.inPatchLimitEachFrame() / patches);
        double s2 = (double) (cfg.patchLimitOnOneSide() * p) / width;
        double s3 = (double) (cfg.patchLimitOnOneSide() * p) / height;
        double scale = Math.min(1.0, Math.min(s1, Math.min(s2, s3)));
        int maxSide = cfg.patchLimitOnOneSide() * p;
        int newW = Math.min(Math.max(1, (int) (width * scale)), maxSide);
        int newH = Math.min(Math.max(1, (int) (height * scale)), maxSide);
        int m = p * cfg.mergeKernelSize();
        return new ChunkResize(width, height, newW, newH, (m - newW % m) % m, (m - newH % m) % m, p,
                cfg.mergeKernelSize());
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
