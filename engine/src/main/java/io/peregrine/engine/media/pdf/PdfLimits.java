package io.peregrine.engine.media.pdf;

/**
 * What one PDF may cost.
 *
 * @param maxBytes encoded size (the official Files API accepts up to 100 MB)
 * @param maxPages pages rendered; every page becomes one image of up to ~4,100 vision tokens
 */
public record PdfLimits(long maxBytes, int maxPages) {

    public static final PdfLimits DEFAULT = new PdfLimits(100L << 20, 50);

    public PdfLimits {
        if (maxBytes <= 0 || maxPages <= 0) {
            throw new IllegalArgumentException("PDF limits must be positive: bytes " + maxBytes + ", pages " + maxPages);
        }
    }
}
