package io.peregrine.engine.vision.preprocess;

import io.peregrine.engine.config.PreprocessorConfig;

/**
 * Where an image of a given size goes: resized to {@code newWidth x newHeight} (never larger than the original),
 * then zero-padded on the right and bottom to multiples of 28.
 */
public record ResizePlan(int width, int height, int newWidth, int newHeight, int padWidth, int padHeight,
                         int patchSize, int mergeKernelSize) {

    /**
     * The K2.5 rule (media_utils {@code navit_resize_image}): scale = min(1, sqrt(limit / patches), side limit / W,
     * side limit / H), computed in double precision like the Python original, truncated with {@code int()}.
     */
    public static ResizePlan of(int width, int height, int patchLimit, PreprocessorConfig cfg) {
        return of(width, height, patchLimit, cfg.patchSize(), cfg.mergeKernelSize(), cfg.patchLimitOnOneSide());
    }

    /** {@link #of(int, int, int, PreprocessorConfig)} with the sizes given one by one (a video's frames). */
    public static ResizePlan of(int width, int height, int patchLimit, int patchSize, int mergeKernelSize,
            int patchLimitOnOneSide) {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive: " + width + "x" + height);
        }
        int p = patchSize;
        double patches = (double) Math.max(1, width / p) * Math.max(1, height / p);
        double s1 = Math.sqrt(patchLimit / patches);
        double s2 = (double) (patchLimitOnOneSide * p) / width;
        double s3 = (double) (patchLimitOnOneSide * p) / height;
        double scale = Math.min(1.0, Math.min(s1, Math.min(s2, s3)));
        int maxSide = patchLimitOnOneSide * p;
        int newW = Math.min(Math.max(1, (int) (width * scale)), maxSide);
        int newH = Math.min(Math.max(1, (int) (height * scale)), maxSide);
        int m = patchSize * mergeKernelSize;
        return new ResizePlan(width, height, newW, newH, (m - newW % m) % m, (m - newH % m) % m, p,
                mergeKernelSize);
    }

    public int paddedWidth() {
        return newWidth + padWidth;
    }

    public int paddedHeight() {
        return newHeight + padHeight;
    }

    public int gridHeight() {
        return paddedHeight() / patchSize;
    }

    public int gridWidth() {
        return paddedWidth() / patchSize;
    }

    /** LM positions this image (or each video chunk) occupies. */
    public int numTokens() {
        return (gridHeight() / mergeKernelSize) * (gridWidth() / mergeKernelSize);
    }

    public boolean resizes() {
        return newWidth != width || newHeight != height;
    }
}
