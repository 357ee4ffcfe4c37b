package io.peregrine.engine.vision.decode;

/**
 * Bounds checked against an image's declared header values before any pixel is decoded.
 *
 * @param maxPixels width * height limit; the default is PIL's {@code Image.MAX_IMAGE_PIXELS} (89,478,485), the
 *                  limit the reference stack's users already live with
 */
public record DecodeLimits(long maxPixels) {

    public static final DecodeLimits DEFAULT = new DecodeLimits(89_478_485L);

    public DecodeLimits {
        if (maxPixels <= 0) {
            throw new IllegalArgumentException("maxPixels must be positive: " + maxPixels);
        }
    }
}
