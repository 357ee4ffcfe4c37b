package io.peregrine.engine.vision;

/**
 * The patch grid of one vision item: {@code t} frames of {@code h} x {@code w} patches of 14x14 pixels
 * ({@code grid_thw} in the reference code). h and w are even (images are padded to multiples of 28).
 */
public record GridThw(int t, int h, int w) {

    public GridThw {
        if (t < 1 || h < 1 || w < 1) {
            throw new IllegalArgumentException("grid_thw must be positive: [" + t + ", " + h + ", " + w + "]");
        }
    }

    public int patches() {
        return Math.multiplyExact(Math.multiplyExact(t, h), w);
    }

    /** LM positions after the 2x2 spatial merge and the mean over time (sd2_tpool). */
    public int mergedTokens(int mergeKernel) {
        return (h / mergeKernel) * (w / mergeKernel);
    }

    @Override
    public String toString() {
        return "[" + t + ", " + h + ", " + w + "]";
    }
}
