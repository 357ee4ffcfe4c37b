package io.peregrine.engine.vision.decode;

import io.peregrine.engine.vision.RgbImage;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.DirectColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;

/**
 * Turns a decoded {@link BufferedImage} into RGB bytes the way PIL's {@code convert("RGB")} does: alpha is dropped
 * without compositing (transparent pixels keep their stored colour), grey is replicated, palettes are expanded.
 * Reads raster samples directly: {@code BufferedImage.getRGB} would apply colour-space conversion (it turns linear
 * grey into sRGB), which PIL never does.
 */
final class PilRgb {
    private PilRgb() {}

    static RgbImage convert(BufferedImage img, String what) {
        int w = img.getWidth();
        int h = img.getHeight();
        ColorModel cm = img.getColorModel();
        Raster raster = img.getRaster();
        byte[] out = new byte[Math.multiplyExact(Math.multiplyExact(w, h), 3)];
        int[] row = new int[w];
        if (cm instanceof IndexColorModel icm) {
            int n = icm.getMapSize();
            byte[] r = new byte[n];
            byte[] g = new byte[n];
            byte[] b = new byte[n];
            icm.getReds(r);
            icm.getGreens(g);
            icm.getBlues(b);
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, 0, row);
                int o = y * w * 3;
                for (int x = 0; x < w; x++) {
                    int i = Math.min(row[x], n - 1);
                    out[o++] = r[i];
                    out[o++] = g[i];
                    out[o++] = b[i];
                }
            }
            return new RgbImage(w, h, out);
        }
        int colorType = cm.getColorSpace().getType();
        int colors = cm.getNumColorComponents();
        boolean gray = colorType == ColorSpace.TYPE_GRAY && colors == 1;
        boolean rgb = colorType == ColorSpace.TYPE_RGB && colors == 3;
        if (!gray && !rgb) {
            throw new ImageDecodeException(ImageDecodeException.Reason.UNSUPPORTED_CONTENT,
                    what + ": colour space with " + colors + " components (type " + colorType
                            + ") is not supported; send RGB, grey or palette images");
        }
        boolean direct = cm instanceof DirectColorModel;
        for (int c = 0; c < 3; c++) {
            int band = gray ? 0 : c;
            int bits = cm.getComponentSize(band);
            for (int y = 0; y < h; y++) {
                raster.getSamples(0, y, w, 1, band, row);
                int o = y * w * 3 + c;
                for (int x = 0; x < w; x++, o += 3) {
                    out[o] = (byte) to8Bit(row[x], bits, gray, direct);
                }
            }
        }
        return new RgbImage(w, h, out);
    }

    /**
     * PIL's 8-bit mapping per source depth: 16-bit RGB keeps the high byte (raw mode "RGB;16B"), 16-bit grey opens
     * as mode "I;16" whose conversion clips at 255 (it does not scale), and packed depths below 8 bits
     * (1/2/4-bit grey, 5/6-bit BMP fields) are scaled to 0..255.
     */
    static int to8Bit(int v, int bits, boolean gray, boolean direct) {
        if (bits == 8) {
            return v;
        }
        if (bits == 16 && !direct) {
            return gray ? Math.min(v, 255) : v >>> 8;
        }
        if (bits < 8) {
            return v * 255 / ((1 << bits) - 1);
        }
        return v >>> (bits - 8);
    }
}
