package io.peregrine.engine.media.pdf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.peregrine.engine.media.MediaInputException;
import io.peregrine.engine.media.MediaInputException.Reason;
import io.peregrine.engine.media.RgbFrame;
import java.awt.Color;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.pdmodel.PDPage;
import org.apache.pdfbox.pdmodel.PDPageContentStream;
import org.apache.pdfbox.pdmodel.common.PDRectangle;
import org.apache.pdfbox.pdmodel.encryption.AccessPermission;
import org.apache.pdfbox.pdmodel.encryption.StandardProtectionPolicy;
import org.junit.jupiter.api.Test;

/** PDFs written with PDFBox in the test, rendered back and checked for order, colour and raster size. */
class PdfPagesTest {

    private static final Color[] COLOURS = {new Color(200, 30, 40), new Color(20, 160, 60), new Color(30, 60, 210),
        new Color(240, 200, 20)};

    /** Page i: white, with a solid rectangle of COLOURS[i] over its middle half. */
    private static byte[] pdf(PDRectangle[] sizes, int[] rotations, StandardProtectionPolicy protection)
            throws IOException {
        try (PDDocument doc = new PDDocument(); ByteArrayOutputStream out = new ByteArrayOutputStream()) {
            for (int i = 0; i < sizes.length; i++) {
                PDPage page = new PDPage(sizes[i]);
                page.setRotation(rotations[i]);
                doc.addPage(page);
                try (PDPageContentStream cs = new PDPageContentStream(doc, page)) {
                    cs.setNonStrokingColor(COLOURS[i % COLOURS.length]);
                    float w = sizes[i].getWidth();
                    float h = sizes[i].getHeight();
                    cs.addRect(w / 4, h / 4, w / 2, h / 2);
                    cs.fill();
                }
            }
            if (protection != null) {
                doc.protect(protection);
            }
            doc.save(out);
            return out.toByteArray();
        }
    }

    @Test
    void pagesRenderInOrderAtTheSizeTheImageRuleKeeps() throws IOException {
        PDRectangle[] sizes = {PDRectangle.LETTER, new PDRectangle(PDRectangle.A4.getHeight(), PDRectangle.A4.getWidth()),
            new PDRectangle(50, 30), new PDRectangle(400, 200)};
        int[] rotations = {0, 0, 0, 90};
        byte[] bytes = pdf(sizes, rotations, null);
        try (PdfPages pdf = PdfPages.open(bytes, "doc.pdf", PdfLimits.DEFAULT, PageRaster.K25)) {
            assertEquals(4, pdf.pageCount());
            List<RgbFrame> pages = new ArrayList<>();
            pdf.pages().forEachRemaining(pages::add);
            for (int i = 0; i < pages.size(); i++) {
                RgbFrame img = pages.get(i);
                Color c = COLOURS[i];
                assertEquals(List.of(c.getRed(), c.getGreen(), c.getBlue()), pixel(img, img.width() / 2, img.height() / 2),
                        "page " + i + " centre");
                assertEquals(List.of(255, 255, 255), pixel(img, 1, 1), "page " + i + " background");
                assertTrue(PageRaster.K25.fits(img.width(), img.height()), "page " + i + " is resized by the rule: "
                        + img.width() + "x" + img.height());
            }
            // Letter: the patch budget, not the 300 dpi cap, decides; nearly all 16,384 patches are used.
            RgbFrame letter = pages.get(0);
            long patches = (long) (letter.width() / 14) * (letter.height() / 14);
            assertTrue(patches > 16384 * 0.97, "Letter uses " + patches + " patches");
            assertEquals(612.0 / 792.0, (double) letter.width() / letter.height(), 2e-3);
            // The tiny page stops at 300 dpi: 50 x 30 pt = 208 x 124 px (PDFBox floors float(30 * 300/72) = 124.99999).
            assertEquals(208, pages.get(2).width());
            assertEquals(124, pages.get(2).height());
            // /Rotate 90 turns a landscape page portrait.
            assertTrue(pages.get(3).height() > pages.get(3).width());
        }
    }

    @Test
    void aPagesSizeIsKnownWithoutRenderingItAndIsTheSizeItRendersAt() throws IOException {
        java.util.Random rnd = new java.util.Random(22);
        int n = 24;
        PDRectangle[] sizes = new PDRectangle[n];
        int[] rotations = new int[n];
        for (int i = 0; i < n; i++) {
            sizes[i] = new PDRectangle(10 + rnd.nextFloat() * 1500, 10 + rnd.nextFloat() * 1500);
            rotations[i] = 90 * rnd.nextInt(4);
        }
        sizes[0] = new PDRectangle(200, 200); // the blank page
        sizes[1] = new PDRectangle(50, 30);
        try (PdfPages pdf = PdfPages.open(pdf(sizes, rotations, null), "doc.pdf", PdfLimits.DEFAULT, PageRaster.K25)) {
            for (int i = 0; i < n; i++) {
                PdfPages.PageSize size = pdf.size(i);
                RgbFrame img = pdf.render(i);
                assertEquals(new PdfPages.PageSize(img.width(), img.height()), size,
                        "page " + i + ": " + sizes[i] + " rotated " + rotations[i]);
            }
            assertEquals(new PdfPages.PageSize(833, 833), pdf.size(0), "200 pt at the 300 dpi cap");
        }
    }

    @Test
    void budgetHoldsForManyPageShapes() {
        PageRaster r = PageRaster.K25;
        for (float w = 20; w < 20000; w *= 1.37f) {
            for (float h = 20; h < 20000; h *= 1.61f) {
                float s = r.scale(w, h);
                int pw = PageRaster.pixels(w, s);
                int ph = PageRaster.pixels(h, s);
                assertTrue(r.fits(pw, ph), w + "x" + h + " pt -> " + pw + "x" + ph);
                assertTrue(s <= 300 / 72.0 + 1e-6);
            }
        }
    }

    @Test
    void badPdfsAreTypedErrors() throws IOException {
        assertReason(Reason.EMPTY, new byte[0], PdfLimits.DEFAULT);
        assertReason(Reason.UNSUPPORTED_FORMAT, "GIF89a not a pdf".getBytes(StandardCharsets.US_ASCII),
                PdfLimits.DEFAULT);
        assertReason(Reason.CORRUPT, "%PDF-1.7\n%garbage\nno objects here\n".getBytes(StandardCharsets.US_ASCII),
                PdfLimits.DEFAULT);

        PDRectangle[] three = {PDRectangle.A4, PDRectangle.A4, PDRectangle.A4};
        byte[] ok = pdf(three, new int[3], null);
        assertReason(Reason.TOO_MANY_PAGES, ok, new PdfLimits(1 << 20, 2));
        assertReason(Reason.TOO_LARGE, ok, new PdfLimits(100, 50));

        StandardProtectionPolicy locked = new StandardProtectionPolicy("owner", "secret", new AccessPermission());
        locked.setEncryptionKeyLength(128);
        assertReason(Reason.ENCRYPTED, pdf(three, new int[3], locked), PdfLimits.DEFAULT);

        // Owner-password-only encryption (permission flags) opens without a password, as in every viewer.
        StandardProtectionPolicy ownerOnly = new StandardProtectionPolicy("owner", "", new AccessPermission());
        ownerOnly.setEncryptionKeyLength(128);
        try (PdfPages pdf = PdfPages.open(pdf(three, new int[3], ownerOnly), "p", PdfLimits.DEFAULT, PageRaster.K25)) {
            assertEquals(3, pdf.pageCount());
            RgbFrame img = pdf.render(1);
            assertEquals(List.of(20, 160, 60), pixel(img, img.width() / 2, img.height() / 2));
        }

        byte[] truncated = Arrays.copyOf(ok, 40);
        MediaInputException e = assertThrows(MediaInputException.class,
                () -> PdfPages.open(truncated, "t.pdf", PdfLimits.DEFAULT, PageRaster.K25).close());
        assertEquals(Reason.CORRUPT, e.reason(), e.getMessage());
        assertTrue(e.getMessage().startsWith("t.pdf: "), e.getMessage());
    }

    private static void assertReason(Reason reason, byte[] bytes, PdfLimits limits) {
        MediaInputException e = assertThrows(MediaInputException.class,
                () -> PdfPages.open(bytes, "p", limits, PageRaster.K25).close());
        assertEquals(reason, e.reason(), e.getMessage());
    }

    private static List<Integer> pixel(RgbFrame img, int x, int y) {
        return List.of(img.get(x, y, 0), img.get(x, y, 1), img.get(x, y, 2));
    }
}
