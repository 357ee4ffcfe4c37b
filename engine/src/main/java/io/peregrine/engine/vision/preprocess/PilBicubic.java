package io.peregrine.engine.vision.preprocess;

import io.peregrine.engine.vision.RgbImage;

/**
 * PIL's {@code Image.resize(size, BICUBIC)} for 8-bit RGB, bit for bit. Written from the algorithm of Pillow's
 * {@code ImagingResample} (libImaging/Resample.c): a cubic filter with a = -0.5 and support 2, stretched by the
 * downscale factor (antialiasing), per-output-pixel coefficients normalised to sum 1 and rounded to 22-bit fixed
 * point, a horizontal pass over only the rows the vertical pass needs, then a vertical pass, with rounding and
 * clipping to uint8 after each pass. An axis whose size does not change is not filtered at all.
 */
public final class PilBicubic {
    private static final int PRECISION_BITS = 32 - 8 - 2;
    private static final double SUPPORT = 2.0;

    private PilBicubic() {}

    /** Per output pixel: the first input index, the number of taps and the fixed-point weights. */
    record Coefficients(int ksize, int[] start, int[] count, int[] weights) {}

    public static RgbImage resize(RgbImage in, int outWidth, int outHeight) {
        if (outWidth <= 0 || outHeight <= 0) {
            throw new IllegalArgumentException("target size must be positive: " + outWidth + "x" + outHeight);
        }
        if (outWidth == in.width() && outHeight == in.height()) {
            return in;
        }
        Coefficients horiz = coefficients(in.width(), outWidth);
        Coefficients vert = coefficients(in.height(), outHeight);
        byte[] src = in.rgb();
        int srcW = in.width();
        int rows = in.height();
        int firstRow = 0;
        if (outWidth != in.width()) {
            firstRow = vert.start[0];
            int lastRow = vert.start[outHeight - 1] + vert.count[outHeight - 1];
            rows = lastRow - firstRow;
            src = horizontal(src, srcW, firstRow, rows, outWidth, horiz);
            srcW = outWidth;
        }
        if (outHeight != in.height()) {
            src = vertical(src, srcW, firstRow, outHeight, vert);
        }
        return new RgbImage(outWidth, outHeight, src);
    }

    static double filter(double x) {
        final double a = -0.5;
        if (x < 0.0) {
            x = -x;
        }
        if (x < 1.0) {
            return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        }
        if (x < 2.0) {
            return (((x - 5) * x + 8) * x - 4) * a;
        }
        return 0.0;
    }

    static Coefficients coefficients(int inSize, int outSize) {
        double scale = (double) inSize / outSize;
        double filterScale = Math.max(scale, 1.0);
        double support = SUPPORT * filterScale;
        int ksize = (int) Math.ceil(support) * 2 + 1;
        int[] start = new int[outSize];
        int[] count = new int[outSize];
        int[] weights = new int[outSize * ksize];
        double[] k = new double[ksize];
        for (int xx = 0; xx < outSize; xx++) {
            double center = (xx + 0.5) * scale;
            double ss = 1.0 / filterScale;
            int xmin = Math.max(0, (int) (center - support + 0.5));
            int xmax = Math.min(inSize, (int) (center + support + 0.5)) - xmin;
            double ww = 0.0;
            for (int x = 0; x < xmax; x++) {
                double w = filter((x + xmin - center + 0.5) * ss);
                k[x] = w;
                ww += w;
            }
            for (int x = 0; x < xmax; x++) {
                double w = ww != 0.0 ? k[x] / ww : k[x];
                weights[xx * ksize + x] = w < 0
                        ? (int) (-0.5 + w * (1 << PRECISION_BITS))
                        : (int) (0.5 + w * (1 << PRECISION_BITS));
            }
            start[xx] = xmin;
            count[xx] = xmax;
        }
        return new Coefficients(ksize, start, count, weights);
    }

    private static byte[] horizontal(byte[] src, int srcW, int firstRow, int rows, int outW, Coefficients c) {
        byte[] out = new byte[rows * outW * 3];
        int[] kk = c.weights;
        for (int y = 0; y < rows; y++) {
            int rowBase = (y + firstRow) * srcW * 3;
            int o = y * outW * 3;
            for (int xx = 0; xx < outW; xx++) {
                int kBase = xx * c.ksize;
                int xmin = c.start[xx];
                int n = c.count[xx];
                int s0 = 1 << (PRECISION_BITS - 1);
                int s1 = s0;
                int s2 = s0;
                for (int x = 0; x < n; x++) {
                    int p = rowBase + (xmin + x) * 3;
                    int w = kk[kBase + x];
                    s0 += (src[p] & 0xFF) * w;
                    s1 += (src[p + 1] & 0xFF) * w;
                    s2 += (src[p + 2] & 0xFF) * w;
                }
                out[o++] = clip8(s0);
                out[o++] = clip8(s1);
                out[o++] = clip8(s2);
            }
        }
        return out;
    }

    /**
     * {@code firstRow} is the source row that row 0 of {@code src} holds (the horizontal pass skips unused rows).
     * Taps are the outer loop so every read is a contiguous row; the sums are exact int arithmetic (no overflow
     * for 8-bit input and 22-bit weights), so this order gives exactly PIL's values.
     */
    private static byte[] vertical(byte[] src, int w, int firstRow, int outH, Coefficients c) {
        byte[] out = new byte[outH * w * 3];
        int[] kk = c.weights;
        int rowStride = w * 3;
        int[] acc = new int[rowStride];
        for (int yy = 0; yy < outH; yy++) {
            int kBase = yy * c.ksize;
            int ymin = c.start[yy] - firstRow;
            int n = c.count[yy];
            java.util.Arrays.fill(acc, 1 << (PRECISION_BITS - 1));
            for (int y = 0; y < n; y++) {
                int weight = kk[kBase + y];
                int p = (ymin + y) * rowStride;
                for (int i = 0; i < rowStride; i++) {
                    acc[i] += (src[p + i] & 0xFF) * weight;
                }
            }
            int o = yy * rowStride;
            for (int i = 0; i < rowStride; i++) {
                out[o + i] = clip8(acc[i]);
            }
        }
        return out;
    }

    private static byte clip8(int v) {
        int x = v >> PRECISION_BITS;
        return (byte) (x < 0 ? 0 : Math.min(x, 255));
    }
}
