package io.peregrine.engine.vision.preprocess;

import io.peregrine.engine.config.PreprocessorConfig;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.RgbImage;
import java.util.List;

/**
 * RGB image (or the frames of one video chunk) to {@link PreprocessedImage}, exactly as the K2.5 processor does
 * (spec §4.2): resize with PIL bicubic by the K2.5 rule, zero-pad right and bottom to multiples of 28,
 * normalise {@code (u/255 - 0.5) * 2} in float32, patchify.
 */
public final class ImagePreprocessor {
    /** (u/255f - 0.5f) * 2f for every byte value; exact in float32 (golden README §4). */
    private static final float[] NORMALISED = new float[256];

    static {
        for (int u = 0; u < 256; u++) {
            NORMALISED[u] = (u / 255f - 0.5f) * 2f;
        }
    }

    private final PreprocessorConfig config;

    public ImagePreprocessor(PreprocessorConfig config) {
        this.config = config;
    }

    public ImagePreprocessor() {
        this(PreprocessorConfig.DEFAULTS);
    }

    public PreprocessorConfig config() {
        return config;
    }

    public ResizePlan planImage(int width, int height) {
        return ResizePlan.of(width, height, config.inPatchLimit(), config);
    }

    public PreprocessedImage image(RgbImage image, String sourceSha256) {
        ResizePlan plan = planImage(image.width(), image.height());
        return build(List.of(image), plan, sourceSha256);
    }

    /**
     * One video chunk (at most {@code temporal_merge_kernel_size} frames of equal size): every frame is resized by
     * the plan of the first frame with the per-frame patch limit; patches are frame-major.
     */
    public PreprocessedImage videoChunk(List<RgbImage> frames, String sourceSha256) {
        if (frames.isEmpty()) {
            throw new IllegalArgumentException("a video chunk needs at least one frame");
        }
        RgbImage first = frames.getFirst();
        for (RgbImage f : frames) {
            if (f.width() != first.width() || f.height() != first.height()) {
                throw new IllegalArgumentException("video frames differ in size: " + first.width() + "x"
                        + first.height() + " vs " + f.width() + "x" + f.height());
            }
        }
        ResizePlan plan = ResizePlan.of(first.width(), first.height(), config.inPatchLimitEachFrame(), config);
        return build(frames, plan, sourceSha256);
    }

    /** The uint8 image the normaliser sees: resized and zero-padded (the golden {@code *.resized_padded.png}). */
    public static RgbImage resizeAndPad(RgbImage image, ResizePlan plan) {
        RgbImage resized = PilBicubic.resize(image, plan.newWidth(), plan.newHeight());
        if (plan.padWidth() == 0 && plan.padHeight() == 0) {
            return resized;
        }
        int pw = plan.paddedWidth();
        byte[] out = new byte[pw * plan.paddedHeight() * 3];
        int rowBytes = plan.newWidth() * 3;
        for (int y = 0; y < plan.newHeight(); y++) {
            System.arraycopy(resized.rgb(), y * rowBytes, out, y * pw * 3, rowBytes);
        }
        return new RgbImage(pw, plan.paddedHeight(), out);
    }

    private static PreprocessedImage build(List<RgbImage> frames, ResizePlan plan, String sourceSha256) {
        int p = plan.patchSize();
        GridThw grid = new GridThw(frames.size(), plan.gridHeight(), plan.gridWidth());
        float[] pixels = new float[Math.multiplyExact(grid.patches(), 3 * p * p)];
        int perFrame = grid.h() * grid.w() * 3 * p * p;
        for (int f = 0; f < frames.size(); f++) {
            RgbImage padded = resizeAndPad(frames.get(f), plan);
            patchify(padded.rgb(), padded.width(), grid.h(), grid.w(), p, pixels, f * perFrame);
        }
        return new PreprocessedImage(pixels, grid, plan.numTokens(), plan, sourceSha256);
    }

    /** HWC uint8 to [gh*gw, 3, p, p] normalised floats starting at {@code offset}. */
    static void patchify(byte[] rgb, int width, int gh, int gw, int p, float[] out, int offset) {
        int o = offset;
        for (int gy = 0; gy < gh; gy++) {
            for (int gx = 0; gx < gw; gx++) {
                for (int c = 0; c < 3; c++) {
                    for (int ky = 0; ky < p; ky++) {
                        int src = ((gy * p + ky) * width + gx * p) * 3 + c;
                        for (int kx = 0; kx < p; kx++, src += 3) {
                            out[o++] = NORMALISED[rgb[src] & 0xFF];
                        }
                    }
                }
            }
        }
    }
}
