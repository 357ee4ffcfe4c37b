package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.vision.decode.DecodeLimits;
import io.peregrine.engine.vision.decode.ImageDecodeException;
import io.peregrine.engine.vision.decode.ImageDecodeException.Reason;
import io.peregrine.engine.vision.decode.ImageDecoder;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Base64;
import java.util.zip.CRC32;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

class ImageDecoderTest {
    private final ImageDecoder decoder = new ImageDecoder();

    private static byte[] encode(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        assertTrue(ImageIO.write(img, format, out), "no writer for " + format);
        return out.toByteArray();
    }

    private RgbImage decode(byte[] bytes) {
        return decoder.decode(new ImageInput(bytes, "test image"));
    }

    @Test
    void pngAlphaIsDroppedWithoutCompositing() throws IOException {
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_ARGB);
        img.setRGB(0, 0, 0x000A141E); // fully transparent, colour (10, 20, 30)
        img.setRGB(1, 0, 0x80FF8040);
        RgbImage rgb = decode(encode(img, "png"));
        assertArrayEquals(new byte[] {10, 20, 30, (byte) 255, (byte) 128, 64}, rgb.rgb());
    }

    @Test
    void sixteenBitGreyClipsLikePilModeI16() throws IOException {
        BufferedImage img = new BufferedImage(3, 1, BufferedImage.TYPE_USHORT_GRAY);
        img.getRaster().setSample(0, 0, 0, 100);
        img.getRaster().setSample(1, 0, 0, 255);
        img.getRaster().setSample(2, 0, 0, 1000);
        RgbImage rgb = decode(encode(img, "png"));
        assertArrayEquals(new byte[] {100, 100, 100, (byte) 255, (byte) 255, (byte) 255, (byte) 255, (byte) 255,
                (byte) 255}, rgb.rgb());
    }

    @Test
    void eightBitGreyIsReplicatedWithoutGammaConversion() throws IOException {
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        img.getRaster().setSample(0, 0, 0, 37);
        img.getRaster().setSample(1, 0, 0, 200);
        RgbImage rgb = decode(encode(img, "png"));
        assertArrayEquals(new byte[] {37, 37, 37, (byte) 200, (byte) 200, (byte) 200}, rgb.rgb());
    }

    @Test
    void gifPaletteIsExpanded() throws IOException {
        byte[] r = {0, (byte) 200, 5, 9};
        byte[] g = {0, 100, 6, 9};
        byte[] b = {0, 50, 7, 9};
        IndexColorModel icm = new IndexColorModel(8, 4, r, g, b);
        int w = 16;
        int h = 8;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_INDEXED, icm);
        WritableRaster raster = img.getRaster();
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                raster.setSample(x, y, 0, (x * 7 + y * 3) % 4);
            }
        }
        RgbImage rgb = decode(encode(img, "gif"));
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = (x * 7 + y * 3) % 4;
                assertEquals(r[i] & 0xFF, rgb.get(x, y, 0));
                assertEquals(g[i] & 0xFF, rgb.get(x, y, 1));
                assertEquals(b[i] & 0xFF, rgb.get(x, y, 2));
            }
        }
    }

    @Test
    void bmpRoundTrips() throws IOException {
        BufferedImage img = new BufferedImage(5, 3, BufferedImage.TYPE_3BYTE_BGR);
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                img.setRGB(x, y, (x * 50) << 16 | (y * 80) << 8 | (x + y) * 20);
            }
        }
        RgbImage rgb = decode(encode(img, "bmp"));
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 5; x++) {
                assertEquals(x * 50, rgb.get(x, y, 0));
                assertEquals(y * 80, rgb.get(x, y, 1));
                assertEquals((x + y) * 20, rgb.get(x, y, 2));
            }
        }
    }

    @Test
    void webpThroughTwelveMonkeys() {
        // The 1x1 lossless and lossy WebP probes browsers and Modernizr use for feature detection.
        RgbImage lossless = decode(Base64.getDecoder().decode("UklGRhoAAABXRUJQVlA4TA0AAAAvAAAAEAcQERGIiP4HAA=="));
        assertEquals(1, lossless.width());
        assertEquals(1, lossless.height());
        RgbImage lossy = decode(Base64.getDecoder().decode("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA"));
        assertEquals(1, lossy.width());
    }

    @Test
    void goldenPngsDecodeToTheirPilModes() {
        RgbImage gray = VisionGolden.decode("inputs/img3_640x480_gray.png");
        assertEquals(640, gray.width());
        for (int i = 0; i < gray.rgb().length; i += 3) {
            assertEquals(gray.rgb()[i], gray.rgb()[i + 1]);
            assertEquals(gray.rgb()[i], gray.rgb()[i + 2]);
        }
    }

    @Test
    void emptyAndUnknownBytesAreTypedErrors() {
        assertEquals(Reason.EMPTY, assertThrows(ImageDecodeException.class, () -> decode(new byte[0])).reason());
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> decode("hello world".getBytes()));
        assertEquals(Reason.UNSUPPORTED_FORMAT, e.reason());
        assertTrue(e.getMessage().contains("test image"), e.getMessage());
    }

    @Test
    void truncatedPngAndJpegAreCorrupt() {
        byte[] png = VisionGolden.input("inputs/img2_300x200_rgba.png").bytes();
        ImageDecodeException e = assertThrows(ImageDecodeException.class,
                () -> decode(Arrays.copyOf(png, png.length / 2)));
        assertEquals(Reason.CORRUPT, e.reason());
        byte[] jpg = VisionGolden.input("inputs/img1_97x61.jpg").bytes();
        e = assertThrows(ImageDecodeException.class, () -> decode(Arrays.copyOf(jpg, jpg.length * 2 / 3)));
        assertEquals(Reason.CORRUPT, e.reason());
        e = assertThrows(ImageDecodeException.class, () -> decode(Arrays.copyOf(png, 40)));
        assertEquals(Reason.CORRUPT, e.reason());
    }

    @Test
    void decompressionBombIsRefusedFromTheHeader() {
        // A 60000 x 60000 PNG header with no image data: refused before any pixel is touched.
        ImageDecodeException e = assertThrows(ImageDecodeException.class, () -> decode(pngHeaderOnly(60000, 60000)));
        assertEquals(Reason.TOO_LARGE, e.reason());
        assertTrue(e.getMessage().contains("60000x60000"), e.getMessage());
        ImageDecoder strict = new ImageDecoder(new DecodeLimits(1000));
        e = assertThrows(ImageDecodeException.class,
                () -> strict.decode(VisionGolden.input("inputs/img2_300x200_rgba.png")));
        assertEquals(Reason.TOO_LARGE, e.reason());
    }

    static byte[] pngHeaderOnly(int w, int h) {
        ByteBuffer b = ByteBuffer.allocate(8 + 25);
        b.put(new byte[] {(byte) 0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A});
        b.putInt(13);
        int crcStart = b.position();
        b.put(new byte[] {'I', 'H', 'D', 'R'}).putInt(w).putInt(h).put((byte) 8).put((byte) 2).put((byte) 0)
                .put((byte) 0).put((byte) 0);
        CRC32 crc = new CRC32();
        crc.update(b.array(), crcStart, 17);
        b.putInt((int) crc.getValue());
        return b.array();
    }
}
