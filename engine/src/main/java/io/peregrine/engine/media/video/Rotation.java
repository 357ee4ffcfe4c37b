package io.peregrine.engine.media.video;

/** Turns interleaved RGB frames upright by the display matrix's clockwise rotation (flat loops, no allocation but the output). */
final class Rotation {
    private Rotation() {}

    /** FFmpeg's rule (fftools get_rotation): clockwise = -round(matrix angle), folded into [0, 360), snapped to 90s. */
    static int clockwiseDegrees(double matrixCounterClockwise) {
        if (Double.isNaN(matrixCounterClockwise)) {
            return 0;
        }
        double theta = -Math.round(matrixCounterClockwise);
        theta -= 360 * Math.floor(theta / 360 + 0.9 / 360);
        int snapped = (int) (Math.round(theta / 90.0) * 90) % 360;
        return snapped;
    }

    static byte[] rotate(byte[] src, int w, int h, int clockwise) {
        if (clockwise == 0) {
            return src;
        }
        byte[] dst = new byte[src.length];
        if (clockwise == 180) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int s = (y * w + x) * 3;
                    int d = ((h - 1 - y) * w + (w - 1 - x)) * 3;
                    dst[d] = src[s];
                    dst[d + 1] = src[s + 1];
                    dst[d + 2] = src[s + 2];
                }
            }
        } else if (clockwise == 90) {
            // output is h wide and w high: source pixel (x, y) lands at (h - 1 - y, x)
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int s = (y * w + x) * 3;
                    int d = (x * h + (h - 1 - y)) * 3;
                    dst[d] = src[s];
                    dst[d + 1] = src[s + 1];
                    dst[d + 2] = src[s + 2];
                }
            }
        } else if (clockwise == 270) {
            // source pixel (x, y) lands at (y, w - 1 - x)
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    int s = (y * w + x) * 3;
                    int d = ((w - 1 - x) * h + y) * 3;
                    dst[d] = src[s];
                    dst[d + 1] = src[s + 1];
                    dst[d + 2] = src[s + 2];
                }
            }
        } else {
            throw new IllegalArgumentException("rotation must be 0, 90, 180 or 270 degrees: " + clockwise);
        }
        return dst;
    }
}
