package io.peregrine.engine.media.pdf;

/**
 * How large a page is rendered so that the K2.5 image rule ({@code navit_resize_image}) keeps it as it is: at most
 * {@code inPatchLimit} whole 14-pixel patches and at most {@code patchLimitOnOneSide} patches a side. Rendering at
 * exactly that size spends the whole per-image budget on real detail instead of rendering big and letting the
 * bicubic resize throw pixels away; {@code maxDpi} stops tiny pages (labels, slides exported at 1 pt = 1 px
 * nonsense sizes) from being blown up far beyond what they hold.
 */
public record PageRaster(int patchSize, int inPatchLimit, int patchLimitOnOneSide, double maxDpi) {

    public static final PageRaster K25 = new PageRaster(14, 16384, 512, 300);

    public PageRaster {
        if (patchSize <= 0 || inPatchLimit <= 0 || patchLimitOnOneSide <= 0 || !(maxDpi > 0)) {
            throw new IllegalArgumentException("page raster limits must be positive");
        }
    }

    /** Pixels per PDF point (1/72 inch) for a page of {@code widthPt x heightPt} points (already rotated). */
    public float scale(float widthPt, float heightPt) {
        if (!(widthPt > 0) || !(heightPt > 0)) {
            throw new IllegalArgumentException("page size must be positive: " + widthPt + "x" + heightPt + " pt");
        }
        double s = Math.sqrt((double) inPatchLimit * patchSize * patchSize / (widthPt * heightPt));
        double side = (double) patchLimitOnOneSide * patchSize;
        s = Math.min(s, Math.min(side / widthPt, side / heightPt));
        s = Math.min(s, maxDpi / 72.0);
        float f = (float) s;
        // Step down until the pixel size PDFBox will produce (float points * scale, floored) is within the budget.
        while (!fits(pixels(widthPt, f), pixels(heightPt, f))) {
            f *= 0.999f;
        }
        return f;
    }

    /** PDFBox's raster size for a length in points at a scale (PDFRenderer.renderImage, float arithmetic). */
    public static int pixels(float points, float scale) {
        return (int) Math.max(Math.floor(points * scale), 1);
    }

    /** Whether the image rule would leave a w x h image unscaled. */
    public boolean fits(int w, int h) {
        int side = patchLimitOnOneSide * patchSize;
        return (long) Math.max(1, w / patchSize) * Math.max(1, h / patchSize) <= inPatchLimit && w <= side
                && h <= side;
    }
}
