package io.peregrine.engine.vision.decode;

import io.peregrine.engine.vision.ImageInput;
import io.peregrine.engine.vision.RgbImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import javax.imageio.stream.MemoryCacheImageInputStream;

/**
 * Decodes client images with ImageIO (PNG, JPEG, GIF, BMP from the JDK; WebP from TwelveMonkeys) into PIL-style
 * RGB. The format is sniffed from magic bytes, the declared size is checked against {@link DecodeLimits} before
 * pixels are decoded, and every failure is an {@link ImageDecodeException} naming the image. Thread-safe: each
 * call creates its own reader.
 *
 * <p>JPEG: the JDK decodes with its bundled IJG libjpeg 6b, PIL with libjpeg-turbo. Both use the islow IDCT and
 * fancy upsampling; JpegDecodeTest measures how far the two decodes are apart on the golden JPEG.
 */
public final class ImageDecoder {
    private final DecodeLimits limits;

    public ImageDecoder(DecodeLimits limits) {
        this.limits = limits;
    }

    public ImageDecoder() {
        this(DecodeLimits.DEFAULT);
    }

    /** Declared size of an image, read from its header only. */
    public record Header(ImageFormat format, int width, int height) {}

    /**
     * Reads and checks the header only (format, declared size against the pixel limit), decoding no pixels:
     * enough to count the image's tokens before admitting a request.
     */
    public Header probe(ImageInput input) {
        return withReader(input, (reader, header, warnings) -> header);
    }

    public RgbImage decode(ImageInput input) {
        return withReader(input, (reader, header, warnings) -> {
            BufferedImage img = reader.read(0);
            for (String warning : warnings) {
                // libjpeg reports missing scan data as a warning and fills the rest with grey; PIL refuses such
                // files. A file that only lacks its final EOI marker has all its pixels and is accepted.
                if (warning.toLowerCase(java.util.Locale.ROOT).contains("premature end")) {
                    throw new ImageDecodeException(ImageDecodeException.Reason.CORRUPT,
                            input.source() + ": " + header.format() + " data is truncated (" + warning + ")");
                }
            }
            return PilRgb.convert(img, input.source());
        });
    }

    private interface ReaderWork<T> {
        T apply(ImageReader reader, Header header, List<String> warnings) throws IOException;
    }

    private <T> T withReader(ImageInput input, ReaderWork<T> work) {
        String what = input.source();
        byte[] bytes = input.bytes();
        if (bytes.length == 0) {
            throw new ImageDecodeException(ImageDecodeException.Reason.EMPTY, what + ": image data is empty");
        }
        ImageFormat format = ImageFormat.sniff(bytes);
        if (format == null) {
            throw new ImageDecodeException(ImageDecodeException.Reason.UNSUPPORTED_FORMAT,
                    what + ": not a PNG, JPEG, WebP, GIF or BMP image (first bytes " + hexPrefix(bytes) + ")");
        }
        ImageReader reader = readerFor(format, what);
        List<String> warnings = new ArrayList<>();
        // MemoryCacheImageInputStream directly: ImageIO.createImageInputStream may spill to a temp file.
        try (ImageInputStream in = new MemoryCacheImageInputStream(new ByteArrayInputStream(bytes))) {
            reader.setInput(in, true, true);
            reader.addIIOReadWarningListener((source, warning) -> warnings.add(warning));
            long w = reader.getWidth(0);
            long h = reader.getHeight(0);
            if (w <= 0 || h <= 0) {
                throw new ImageDecodeException(ImageDecodeException.Reason.CORRUPT,
                        what + ": " + format + " declares size " + w + "x" + h);
            }
            if (w * h > limits.maxPixels()) {
                throw new ImageDecodeException(ImageDecodeException.Reason.TOO_LARGE, what + ": " + format + " of "
                        + w + "x" + h + " = " + (w * h) + " pixels exceeds the limit of " + limits.maxPixels());
            }
            return work.apply(reader, new Header(format, (int) w, (int) h), warnings);
        } catch (ImageDecodeException e) {
            throw e;
        } catch (IOException | RuntimeException e) {
            String msg = String.valueOf(e.getMessage());
            ImageDecodeException.Reason reason = msg.contains("Unsupported Image Type")
                    ? ImageDecodeException.Reason.UNSUPPORTED_CONTENT
                    : ImageDecodeException.Reason.CORRUPT;
            throw new ImageDecodeException(reason, what + ": cannot decode " + format + " data: " + msg, e);
        } finally {
            reader.dispose();
        }
    }

    private static ImageReader readerFor(ImageFormat format, String what) {
        Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName(format.imageIoName());
        if (!readers.hasNext()) {
            throw new ImageDecodeException(ImageDecodeException.Reason.UNSUPPORTED_FORMAT,
                    what + ": no ImageIO reader for " + format + " on the class path");
        }
        return readers.next();
    }

    private static String hexPrefix(byte[] b) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < Math.min(8, b.length); i++) {
            sb.append(String.format("%02x", b[i] & 0xFF));
        }
        return sb.toString();
    }
}
