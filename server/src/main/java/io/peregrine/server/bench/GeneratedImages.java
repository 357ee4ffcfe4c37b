package io.peregrine.server.bench;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import java.util.Random;
import javax.imageio.ImageIO;

/** Seeded noise images as PNG data URLs, so image requests need no files and differ from each other. */
public final class GeneratedImages {
    private GeneratedImages() {}

    public static String pngDataUrl(int width, int height, long seed) {
        if (width < 1 || height < 1 || (long) width * height > 64L << 20) {
            throw new IllegalArgumentException("image size must be between 1x1 and 64 Mpx, got " + width + "x"
                    + height);
        }
        Random r = new Random(seed);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                img.setRGB(x, y, r.nextInt(1 << 24));
            }
        }
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        try {
            ImageIO.write(img, "png", png);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return "data:image/png;base64," + Base64.getEncoder().encodeToString(png.toByteArray());
    }
}
