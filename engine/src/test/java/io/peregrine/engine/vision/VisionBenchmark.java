package io.peregrine.engine.vision;

import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.vision.decode.ImageDecoder;
import io.peregrine.engine.vision.encoder.MoonVitGraph;
import io.peregrine.engine.vision.encoder.OnnxVisionEncoder;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.vision.preprocess.ImagePreprocessor;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.function.Supplier;
import javax.imageio.ImageIO;

/**
 * Benchmark, not a test: preprocessing throughput for a 1920x1080 photo (and a 3000x2000 one, which needs the
 * bicubic downscale) and MoonViT tokens/s on ONNX Runtime CPU for a real-width tower (D 1152, 16 heads, FF 4304,
 * projector to 7168) with random weights and {@code layers} blocks, extrapolated to 27 blocks by FLOPs.
 * Arguments: [blocks, default 2] [fused|plain attention, default fused]. Run: see docs/performance.md, section Vision.
 */
public final class VisionBenchmark {
    private VisionBenchmark() {}

    public static void main(String[] args) throws Exception {
        int layers = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        MoonVitGraph.Attention attention = args.length > 1 ? MoonVitGraph.Attention.valueOf(args[1].toUpperCase())
                : MoonVitGraph.Attention.FUSED;
        int threads = Runtime.getRuntime().availableProcessors();
        System.out.printf("cores %d, java %s%n", threads, Runtime.version());
        preprocessing(1920, 1080);
        preprocessing(3000, 2000);
        tower(layers, threads, attention);
    }

    static void preprocessing(int w, int h) throws IOException {
        BufferedImage photo = syntheticPhoto(w, h);
        byte[] png = encode(photo, "png");
        byte[] jpg = encode(photo, "jpeg");
        ImageDecoder decoder = new ImageDecoder();
        ImagePreprocessor pre = new ImagePreprocessor();
        RgbImage rgb = decoder.decode(ImageInput.of(png));
        double tPng = seconds(() -> decoder.decode(ImageInput.of(png)));
        double tJpg = seconds(() -> decoder.decode(ImageInput.of(jpg)));
        double tPre = seconds(() -> pre.image(rgb, "bench"));
        PreprocessedImage out = pre.image(rgb, "bench");
        System.out.printf("%dx%d -> %dx%d, %d tokens: decode PNG %.1f ms, decode JPEG %.1f ms, "
                        + "resize+pad+normalise+patchify %.1f ms = %.1f images/s (from decoded RGB), %.1f images/s incl. JPEG decode%n",
                w, h, out.plan().newWidth(), out.plan().newHeight(), out.numTokens(), tPng * 1e3, tJpg * 1e3, tPre * 1e3,
                1 / tPre, 1 / (tPre + tJpg));
    }

    static void tower(int layers, int threads, MoonVitGraph.Attention attention) throws Exception {
        Path tmp = Files.createTempDirectory("vision-bench");
        Path ckptDir = SyntheticVisionCheckpoint.write(tmp.resolve("ckpt"), 1152, 16, layers, 4304, 7168);
        try (Checkpoint ckpt = Checkpoint.open(ckptDir)) {
            long t0 = System.nanoTime();
            try (OnnxVisionEncoder enc = OnnxVisionEncoder.open(ckpt,
                    new OnnxVisionEncoder.Options(tmp.resolve("cache"), threads, false, attention, false))) {
                System.out.printf("built + loaded %d-layer real-width tower (%s attention) in %.1f s%n", layers, attention,
                        (System.nanoTime() - t0) / 1e9);
                VisionConfig cfg = enc.config();
                Random rnd = new Random(1);
                for (int side : new int[] {448, 896}) {
                    byte[] px = new byte[side * side * 3];
                    rnd.nextBytes(px);
                    PreprocessedImage img = new ImagePreprocessor().image(new RgbImage(side, side, px), "bench");
                    double t = seconds(() -> enc.encode(img), 1, 3);
                    int p = img.numPatches();
                    double flopsL = flops(cfg, p, layers);
                    double flops27 = flops(cfg, p, 27);
                    System.out.printf("%dx%d: %d patches, %d tokens, %d layers: %.1f ms, %.1f tokens/s, %.1f GFLOP/s "
                                    + "(%.1f GFLOP per item); 27 layers by FLOPs: %.1f GFLOP, ~%.2f s, ~%.1f tokens/s%n",
                            side, side, p, img.numTokens(), layers, t * 1e3, img.numTokens() / t, flopsL / t / 1e9,
                            flopsL / 1e9, flops27 / 1e9, t * flops27 / flopsL, img.numTokens() / (t * flops27 / flopsL));
                }
            }
        } finally {
            try (var s = Files.walk(tmp)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
            }
        }
    }

    /** Multiply-adds x2 of one item: patch embed, per block qkv/o/MLP and attention (QK and PV), projector. */
    static double flops(VisionConfig c, int patches, int layers) {
        double p = patches;
        double d = c.vtHiddenSize();
        double patchEmbed = 2 * p * 3 * c.patchSize() * c.patchSize() * d;
        double block = 2 * p * (3 * d * d + d * d + 2 * d * c.vtIntermediateSize()) + 2 * 2 * p * p * d;
        double tokens = p / 4;
        double projector = 2 * tokens * (4 * d * 4 * d + 4 * d * c.textHiddenSize());
        return patchEmbed + layers * block + projector;
    }

    static double seconds(Supplier<?> work) {
        return seconds(work, 2, 5);
    }

    /** Median wall time of {@code runs} calls after {@code warmups}. */
    static double seconds(Supplier<?> work, int warmups, int runs) {
        for (int i = 0; i < warmups; i++) {
            work.get();
        }
        double[] t = new double[runs];
        for (int i = 0; i < t.length; i++) {
            long s = System.nanoTime();
            work.get();
            t[i] = (System.nanoTime() - s) / 1e9;
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    static byte[] encode(BufferedImage img, String format) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, format, out);
        return out.toByteArray();
    }

    /** Smooth gradients plus noise: compresses and decodes like a photo rather than like a flat test card. */
    static BufferedImage syntheticPhoto(int w, int h) {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_3BYTE_BGR);
        Random rnd = new Random(42);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int r = (int) (127 + 100 * Math.sin(x / 97.0) + rnd.nextInt(20));
                int g = (int) (127 + 100 * Math.cos(y / 61.0) + rnd.nextInt(20));
                int b = (x * 255 / w + y * 255 / h) / 2;
                img.setRGB(x, y, Math.clamp(r, 0, 255) << 16 | Math.clamp(g, 0, 255) << 8 | b);
            }
        }
        return img;
    }
}
