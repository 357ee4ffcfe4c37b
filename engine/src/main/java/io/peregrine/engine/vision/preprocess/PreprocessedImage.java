package io.peregrine.engine.vision.preprocess;

import io.peregrine.engine.vision.GridThw;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * One vision item ready for the encoder: {@code pixel_values} as a flat float32 array laid out
 * [patches, 3, 14, 14] (patches frame-major, then row-major over the patch grid; inside a patch channel, row,
 * column), its grid and how many LM positions it occupies.
 *
 * @param sourceSha256 SHA-256 of the encoded input bytes (of all frames, for a video chunk); together with the
 *                     plan it identifies the pixels without re-hashing them, so it is the encoder-cache key
 */
public record PreprocessedImage(float[] pixelValues, GridThw grid, int numTokens, ResizePlan plan,
                                String sourceSha256) {

    public PreprocessedImage {
        int per = 3 * plan.patchSize() * plan.patchSize();
        if (pixelValues.length != (long) grid.patches() * per) {
            throw new IllegalArgumentException("pixel_values has " + pixelValues.length + " floats, grid " + grid
                    + " needs " + (long) grid.patches() * per);
        }
    }

    public int numPatches() {
        return grid.patches();
    }

    /** Key for the encoder cache and for prefix-cache keys: the source bytes plus everything that shaped the pixels. */
    public String cacheKey() {
        return sourceSha256 + ":" + grid.t() + "x" + plan.newWidth() + "x" + plan.newHeight() + "p" + plan.paddedWidth()
                + "x" + plan.paddedHeight();
    }

    /** SHA-256 of the float32 little-endian bytes of pixel_values (the golden files' fingerprint). */
    public String pixelValuesSha256() {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            ByteBuffer buf = ByteBuffer.allocate(4 * 4096).order(ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < pixelValues.length; i++) {
                if (!buf.hasRemaining()) {
                    md.update(buf.array(), 0, buf.position());
                    buf.clear();
                }
                buf.putFloat(pixelValues[i]);
            }
            md.update(buf.array(), 0, buf.position());
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by every JDK", e);
        }
    }
}
