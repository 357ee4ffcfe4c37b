package io.peregrine.engine.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import org.junit.jupiter.api.Test;

/**
 * The JDK decodes JPEG with IJG libjpeg 6b, PIL with libjpeg-turbo. This measures the difference on the golden
 * JPEG (img1, q92, 4:2:0) and pins it (measured: bit-identical), so a change of either decoder is noticed.
 */
class JpegDecodeTest {

    @Test
    void jdkDecodeAgainstPil() {
        RgbImage pil = VisionGolden.img1AsPilDecodedIt();
        RgbImage jdk = VisionGolden.decode("inputs/img1_97x61.jpg");
        assertEquals(pil.width(), jdk.width());
        assertEquals(pil.height(), jdk.height());
        int maxDiff = 0;
        int differing = 0;
        long sumDiff = 0;
        for (int i = 0; i < pil.rgb().length; i++) {
            int d = Math.abs((pil.rgb()[i] & 0xFF) - (jdk.rgb()[i] & 0xFF));
            maxDiff = Math.max(maxDiff, d);
            sumDiff += d;
            if (d != 0) {
                differing++;
            }
        }
        float[] a = new ImagePreprocessor().image(pil, "pil").pixelValues();
        float[] b = new ImagePreprocessor().image(jdk, "jdk").pixelValues();
        double maxPixelValueDiff = 0;
        for (int i = 0; i < a.length; i++) {
            maxPixelValueDiff = Math.max(maxPixelValueDiff, Math.abs(a[i] - b[i]));
        }
        System.out.printf("JPEG img1: %d of %d samples differ, max |diff| %d, mean |diff| %.4f, max pixel_values diff %.5f%n",
                differing, pil.rgb().length, maxDiff, (double) sumDiff / pil.rgb().length, maxPixelValueDiff);
        // Measured: identical (both are islow IDCT + fancy h2v2 upsampling of the same IJG lineage).
        assertEquals(0, maxDiff, "JDK JPEG decode no longer equals PIL's on img1");
    }
}
