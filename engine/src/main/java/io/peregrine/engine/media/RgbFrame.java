package io.peregrine.engine.media;

/**
 * An 8-bit RGB picture (a video frame after rotation, or a rendered PDF page): rows top to bottom, pixels interleaved
 * R,G,B, the layout of a PIL image in mode "RGB" and of {@code io.peregrine.engine.vision.RgbImage}, so the image
 * preprocessor takes it without a copy.
 *
 * @param rgb {@code width * height * 3} bytes (unsigned)
 */
public record RgbFrame(int width, int height, byte[] rgb) {

    public RgbFrame {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("frame size must be positive: " + width + "x" + height);
        }
        if (rgb.length != Math.multiplyExact(Math.multiplyExact(width, height), 3)) {
            throw new IllegalArgumentException("expected " + width + "x" + height + "x3 bytes, got " + rgb.length);
        }
    }

    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }
}
