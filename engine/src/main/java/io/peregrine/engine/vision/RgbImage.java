package io.peregrine.engine.vision;

/**
 * An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B: the Java twin of a PIL image in mode "RGB".
 *
 * @param rgb {@code width * height * 3} bytes (unsigned)
 */
public record RgbImage(int width, int height, byte[] rgb) {

    public RgbImage {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("image size must be positive: " + width + "x" + height);
        }
        if (rgb.length != Math.multiplyExact(Math.multiplyExact(width, height), 3)) {
            throw new IllegalArgumentException("expected " + width + "x" + height + "x3 bytes, got " + rgb.length);
        }
    }

    public int get(int x, int y, int c) {
        return rgb[(y * width + x) * 3 + c] & 0xFF;
    }
}
