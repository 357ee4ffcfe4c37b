package io.peregrine.engine.media.pdf;

import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.RgbFrame;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.NoSuchElementException;
import org.apache.pdfbox.Loader;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.apache.pdfbox.pdmodel.encryption.InvalidPasswordException;
import org.apache.pdfbox.rendering.ImageType;
import org.apache.pdfbox.rendering.PDFRenderer;

/**
 * A PDF whose pages become images, in order, rendered with Apache PDFBox at the size the K2.5 image rule keeps
 * ({@link PageRaster}). Pages are rendered one at a time on demand, so only one page raster is alive per request;
 * their sizes ({@link #size}) are known without rendering.
 *
 * <p>PDFs that need a password are rejected; PDFs encrypted only with an owner password (permission flags, common
 * for published documents) open without one and are accepted, as every viewer does.
 *
 * <p>Not thread-safe: one request owns one instance and closes it.
 */
public final class PdfPages implements AutoCloseable {

    private final String source;
    private final PDDocument document;
    private final PDFRenderer renderer;
    private final PageRaster raster;

    public static PdfPages open(byte[] bytes, String source, PdfLimits limits, PageRaster raster) {
        if (bytes == null || bytes.length == 0) {
            throw new MediaInputException(Reason.EMPTY, source + ": the PDF is empty");
        }
        if (bytes.length > limits.maxBytes()) {
            throw new MediaInputException(Reason.TOO_LARGE, source + ": the PDF is " + bytes.length
                    + " bytes; the limit is " + limits.maxBytes());
        }
        if (!hasPdfHeader(bytes)) {
            throw new MediaInputException(Reason.UNSUPPORTED_FORMAT, source + ": not a PDF (no %PDF- header)");
        }
        PDDocument doc;
        try {
            doc = Loader.loadPDF(bytes);
        } catch (InvalidPasswordException e) {
            throw new MediaInputException(Reason.ENCRYPTED, source + ": the PDF is password-protected", e);
        } catch (IOException | RuntimeException e) {
            throw new MediaInputException(Reason.CORRUPT, source + ": the PDF cannot be read (" + e.getMessage() + ")",
                    e);
        }
        try {
            int pages = doc.getNumberOfPages();
            if (pages == 0) {
                throw new MediaInputException(Reason.CORRUPT, source + ": the PDF has no pages");
            }
            if (pages > limits.maxPages()) {
                throw new MediaInputException(Reason.TOO_MANY_PAGES, source + ": the PDF has " + pages
                        + " pages; the limit is " + limits.maxPages());
            }
            return new PdfPages(source, doc, raster);
        } catch (RuntimeException e) {
            closeQuietly(doc);
            throw e;
        }
    }

    private PdfPages(String source, PDDocument document, PageRaster raster) {
        this.source = source;
        this.document = document;
        this.renderer = new PDFRenderer(document);
        // Embedded images larger than the page raster are subsampled while drawing: a small PDF holding a huge
        // image must not allocate that image at full size (the page raster is at most ~3.2 MP anyway).
        renderer.setSubsamplingAllowed(true);
        this.raster = raster;
    }

    public int pageCount() {
        return document.getNumberOfPages();
    }

    /** A page's raster size in pixels, as {@link #render} will produce it. */
    public record PageSize(int width, int height) {}

    /**
     * The size page {@code index} renders at, from its crop box and rotation alone: what its token count follows
     * from, without drawing anything (a render costs up to a second a page; a 7 KB PDF can hold hundreds).
     */
    public PageSize size(int index) {
        PDPage page = page(index);
        PDRectangle box = page.getCropBox();
        float scale = scale(page, index);
        // PDFRenderer.renderImage: the crop box scaled and floored, then turned by the page rotation.
        int w = PageRaster.pixels(box.getWidth(), scale);
        int h = PageRaster.pixels(box.getHeight(), scale);
        int rotation = page.getRotation();
        return rotation == 90 || rotation == 270 ? new PageSize(h, w) : new PageSize(w, h);
    }

    private PDPage page(int index) {
        if (index < 0 || index >= pageCount()) {
            throw new IllegalArgumentException("page " + index + " is outside 0.." + (pageCount() - 1));
        }
        return document.getPage(index);
    }

    private float scale(PDPage page, int index) {
        PDRectangle box = page.getCropBox();
        boolean turned = page.getRotation() % 180 != 0;
        float w = turned ? box.getHeight() : box.getWidth();
        float h = turned ? box.getWidth() : box.getHeight();
        if (!(w > 0) || !(h > 0)) {
            throw new MediaInputException(Reason.CORRUPT, source + ": page " + (index + 1) + " has no area");
        }
        return raster.scale(w, h);
    }

    /** Renders page {@code index} (0-based) as RGB on a white background. */
    public RgbFrame render(int index) {
        float scale = scale(page(index), index);
        BufferedImage img;
        try {
            img = renderer.renderImage(index, scale, ImageType.RGB);
        } catch (IOException | RuntimeException e) {
            throw new MediaInputException(Reason.CORRUPT, source + ": page " + (index + 1) + " cannot be rendered ("
                    + e.getMessage() + ")", e);
        }
        return toRgb(img);
    }

    /** The pages in order, each rendered when it is reached. */
    public Iterator<RgbFrame> pages() {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < pageCount();
            }

            @Override
            public RgbFrame next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return render(next++);
            }
        };
    }

    private static RgbFrame toRgb(BufferedImage img) {
        int w = img.getWidth();
        int h = img.getHeight();
        byte[] rgb = new byte[w * h * 3];
        int[] row = new int[w];
        for (int y = 0; y < h; y++) {
            img.getRGB(0, y, w, 1, row, 0, w);
            int o = y * w * 3;
            for (int x = 0; x < w; x++) {
                int p = row[x];
                rgb[o++] = (byte) (p >> 16);
                rgb[o++] = (byte) (p >> 8);
                rgb[o++] = (byte) p;
            }
        }
        return new RgbFrame(w, h, rgb);
    }

    private static boolean hasPdfHeader(byte[] bytes) {
        // Like PDFBox and most viewers, allow junk before the header within the first KiB.
        String head = new String(bytes, 0, Math.min(bytes.length, 1024), StandardCharsets.ISO_8859_1);
        return head.contains("%PDF-");
    }

    private static void closeQuietly(PDDocument doc) {
        try {
            doc.close();
        } catch (IOException ignored) {
            // nothing was written; a failed close loses nothing
        }
    }

    @Override
    public void close() {
        closeQuietly(document);
    }
}
