package io.peregrine.kernels.check;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.checkpoint.DType;
import io.peregrine.engine.checkpoint.Tensor;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sched.MediaSpan;
import io.peregrine.engine.vision.GridThw;
import io.peregrine.engine.vision.encoder.MoonVitEncoder;
import io.peregrine.engine.config.VisionConfig;
import io.peregrine.engine.vision.encoder.VisionEmbeddings;
import io.peregrine.engine.vision.encoder.VisionPositions;
import io.peregrine.engine.vision.preprocess.PreprocessedImage;
import io.peregrine.engine.vision.preprocess.ResizePlan;
import io.peregrine.kernels.cuda.CudaBackend;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/**
 * The vision tower ({@link MoonVitEncoder}, issue 24) in the device check.
 *
 * <p>Golden: the vision-golden items whose full pixel_values are in the tree (img1, img2) on the tiny checkpoint,
 * projector and merged tower outputs against the golden files: fp32 products ({@link CudaBackend.Options#FP32})
 * within the golden README's 1e-4; tensor-core products (activations rounded to bf16) within {@value #BF16_SHARE} of
 * the golden's largest magnitude. Then a pass of both images and a 4-frame chunk against each alone (bit for bit) and
 * against the CPU backend's tower (1e-4). The same cases run on the CPU backend in {@code prepare}'s dry run.
 *
 * <p>Throughput: K2.5's tower and projector (27 × 1152 wide, random BF16 weights) at 448², 896² and 1920×1080
 * (1024, 4096 and 10,764 patches) and 8 × 448² in one pass: images/s, vision tokens/s and the FLOPs' rate against the
 * measured bf16 matrix rate.
 */
final class VisionCheck {
    static final double FP32_TOL = 1e-4;
    static final double BF16_SHARE = 5e-2;

    private final Path golden;
    private final PrintStream out;
    int checks;
    int failures;

    VisionCheck(Path golden, PrintStream out) {
        this.golden = golden;
        this.out = out;
    }

    /** Golden cases on {@code backend}; {@code tol} absolute, or a share of max|golden| when {@code relative}. */
    void golden(Backend backend, String label, double tol, boolean relative) {
        Path vg = golden.resolve("vision-golden");
        try (Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"));
             MoonVitEncoder tower = MoonVitEncoder.load(ck, backend)) {
            Map<String, PreprocessedImage> items = goldenItems(vg, List.of("img1_97x61", "img2_300x200_rgba"));
            for (Map.Entry<String, PreprocessedImage> e : items.entrySet()) {
                MoonVitEncoder.ItemOutput o = tower.towerAndProjector(List.of(e.getValue())).getFirst();
                float[] gTower = readF32(vg.resolve(e.getKey() + ".vision_tower_out.f32.npy"));
                float[] gProj = readF32(vg.resolve(e.getKey() + ".projector_out.f32.npy"));
                double limT = relative ? tol * maxAbs(gTower) : tol;
                double limP = relative ? tol * maxAbs(gProj) : tol;
                double dt = maxAbsDiff(gTower, o.towerOut());
                double dp = maxAbsDiff(gProj, o.embeddings().values());
                record(dt <= limT && dp <= limP, String.format("vision golden %s on %s (%s): tower max|diff| %.3g (limit %.3g),"
                        + " projector %.3g (limit %.3g)", e.getKey(), backend.name(), label, dt, limT, dp, limP));
            }
            List<PreprocessedImage> batch = new ArrayList<>(items.values());
            batch.add(noise(4, 8, 12, 7));
            List<VisionEmbeddings> together = tower.encodeAll(batch);
            boolean same = true;
            for (int i = 0; i < batch.size(); i++) {
                same &= java.util.Arrays.equals(together.get(i).values(), tower.encode(batch.get(i)).values());
            }
            record(same, "vision batch of " + batch.size() + " (2 images, a 4-frame chunk) on " + backend.name() + " ("
                    + label + "): each item's bits as alone");
            if (!(backend instanceof CpuBackend)) {
                try (CpuBackend cpu = new CpuBackend(Math.max(1, Runtime.getRuntime().availableProcessors() - 1));
                     MoonVitEncoder ref = MoonVitEncoder.load(ck, cpu)) {
                    List<VisionEmbeddings> want = ref.encodeAll(batch);
                    double worst = 0;
                    double scale = 0;
                    for (int i = 0; i < batch.size(); i++) {
                        worst = Math.max(worst, maxAbsDiff(want.get(i).values(), together.get(i).values()));
                        scale = Math.max(scale, maxAbs(want.get(i).values()));
                    }
                    double lim = relative ? tol * scale : tol;
                    record(worst <= lim, String.format("vision batch on %s (%s) vs the CPU backend's tower: max|diff| %.3g"
                            + " (limit %.3g)", backend.name(), label, worst, lim));
                }
            }
        }
    }

    /**
     * One image request end to end on {@code backend}: img2's pixels through the tower on the model's backend, its
     * rows spliced over the expanded {@code <|media_pad|>} positions, prefill and 8 greedy steps of the tiny text model
     * against the e2e golden (text tolerance per row, greedy ids exact), as {@code MultimodalGoldenTest} on the CPU.
     */
    void endToEnd(Backend backend) {
        Path vg = golden.resolve("vision-golden");
        try (Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"));
             MoonVitEncoder tower = MoonVitEncoder.load(ck, backend)) {
            JsonNode e2e = new ObjectMapper().readTree(vg.resolve("vision_golden.json").toFile()).get("e2e_multimodal");
            PreprocessedImage img = goldenItems(vg, List.of(e2e.get("image").asText())).values().iterator().next();
            VisionEmbeddings emb = tower.encode(img);
            KimiTextModel model = KimiTextModel.load(ck, backend);
            int[] prompt = ints(e2e.get("prompt_ids_expanded"));
            int[] greedy = ints(e2e.get("greedy_ids"));
            int padStart = e2e.get("media_pad_positions_expanded").get(0).asInt();
            List<MediaSpan> media = List.of(new MediaSpan(padStart, emb.tokens(), emb.hidden(), emb.values(), 1));
            int block = GoldenTextCheck.BLOCK;
            int blocks = (prompt.length + greedy.length + block - 1) / block;
            LatentCache cache = model.newCache(blocks, block);
            int[] table = new int[blocks];
            for (int i = 0; i < blocks; i++) {
                table[i] = blocks - 1 - i;
            }
            float[][] prefill = model.forward(List.of(new SequenceSlice(prompt, 0, table, true,
                    MediaSpan.rowsFor(media, 0, prompt.length))), cache).getFirst();
            float[][] wantPrefill = GoldenTextCheck.readF32Matrix(vg.resolve("e2e_img2.prefill_logits.f32.npy"));
            float[][] wantSteps = GoldenTextCheck.readF32Matrix(vg.resolve("e2e_img2.greedy_step_logits.f32.npy"));
            double worst = 0;
            for (int t = 0; t < prefill.length; t++) {
                worst = Math.max(worst, GoldenTextCheck.share(wantPrefill[t], prefill[t]));
            }
            int[] got = new int[greedy.length];
            float[] last = prefill[prefill.length - 1];
            for (int k = 0; k < greedy.length; k++) {
                worst = Math.max(worst, GoldenTextCheck.share(wantSteps[k], last));
                got[k] = GoldenTextCheck.argmax(last);
                if (k + 1 < greedy.length) {
                    last = model.forward(List.of(new SequenceSlice(new int[] {got[k]}, prompt.length + k, table, false)),
                            cache).getFirst()[0];
                }
            }
            boolean ids = java.util.Arrays.equals(greedy, got);
            record(worst <= 1 && ids, String.format("vision e2e img2 on %s: %d image rows spliced, prefill %d rows + %d"
                    + " greedy steps at %.3f of the text tolerance, greedy ids %s", backend.name(), emb.tokens(),
                    prompt.length, greedy.length, worst, ids ? "equal" : "DIFFER " + java.util.Arrays.toString(got)));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] ints(JsonNode a) {
        int[] o = new int[a.size()];
        for (int i = 0; i < o.length; i++) {
            o[i] = a.get(i).asInt();
        }
        return o;
    }

    private void record(boolean ok, String line) {
        checks++;
        if (!ok) {
            failures++;
        }
        out.println((ok ? "ok   " : "FAIL ") + line);
    }

    /** Every size of the table: 448², 896², 1920×1080 (padded to 1932×1092) and 8 × 448² in one pass. */
    static final int[][] ALL_SIZES = {{448, 448, 1}, {896, 896, 1}, {1932, 1092, 1}, {448, 448, 8}};
    /** serve's default CUDA backend (fp32 GEMV products): the two ends only. */
    static final int[][] FP32_SIZES = {{448, 448, 1}, {1932, 1092, 1}};

    /** Timings of K2.5's tower on {@code cuda} with random weights; a table row per size. */
    static void throughput(CudaBackend cuda, String products, int[][] sizes, double bf16TFlops, long seed,
                           PrintStream out) {
        VisionConfig k25 = VisionConfig.moonVit(14, 1152, 16, 27, 4304, 64, 64, 4, 2, 7168, 1e-5);
        try (Arena arena = Arena.ofShared()) {
            Map<String, Tensor> weights = syntheticWeights(k25, arena, seed);
            try (MoonVitEncoder tower = MoonVitEncoder.load(k25, weights::get, cuda)) {
                out.printf("%n| vision pass (K2.5 tower + projector, %s, %s) | patches | tokens | ms/pass | images/s"
                        + " | vision tokens/s | TFLOP/s | of bf16 | host positions ms |%n|---|---:|---:|---:|---:|---:|---:|---:|---:|%n",
                        cuda.name(), products);
                for (int[] s : sizes) {
                    int gh = s[1] / 14;
                    int gw = s[0] / 14;
                    List<PreprocessedImage> pass = new ArrayList<>();
                    for (int i = 0; i < s[2]; i++) {
                        pass.add(noise(1, gh, gw, seed + i));
                    }
                    long t0 = System.nanoTime();
                    VisionPositions.posEmbedding(new float[64 * 64 * 1152], 64, 64, 1152, pass.getFirst().grid());
                    VisionPositions.rope(72, pass.getFirst().grid());
                    double hostMs = (System.nanoTime() - t0) / 1e6 * s[2];
                    tower.encodeAll(pass); // warm-up: workspace, kernels
                    int reps = 3;
                    long start = System.nanoTime();
                    for (int r = 0; r < reps; r++) {
                        tower.encodeAll(pass); // ends with the copy of the embeddings to the host: a full pass
                    }
                    double sec = (System.nanoTime() - start) / 1e9 / reps;
                    long patches = (long) gh * gw * s[2];
                    long tokens = (long) (gh / 2) * (gw / 2) * s[2];
                    double flops = s[2] * flops(k25, gh * gw, (gh / 2) * (gw / 2));
                    double tf = flops / sec / 1e12;
                    String label = s[2] == 1 ? (s[0] == 1932 ? "1920×1080 (padded 1932×1092)" : s[0] + "²")
                            : s[2] + " × " + s[0] + "² in one pass";
                    out.printf("| %s | %d | %d | %.1f | %.1f | %.0f | %.1f | %s | %.1f |%n", label, patches, tokens,
                            sec * 1e3, s[2] / sec, tokens / sec, tf,
                            bf16TFlops > 0 ? String.format("%.0f%%", 100 * tf / bf16TFlops) : "n/a", hostMs);
                }
                out.printf("FLOPs: 2·params per patch through the blocks, 4·L²·1152 per block for attention over an item"
                        + " of L patches, 2·params per token through the projector; bf16 matrix rate %.0f TFLOP/s%n",
                        bf16TFlops);
            }
        }
    }

    /** Multiply-adds ×2 of one item of {@code patches} patches and {@code tokens} merged tokens. */
    static double flops(VisionConfig c, long patches, long tokens) {
        double d = c.vtHiddenSize();
        double perPatch = 2 * (588 * d + c.vtNumHiddenLayers() * (3 * d * d + d * d + 2 * d * c.vtIntermediateSize()));
        double attention = c.vtNumHiddenLayers() * 4.0 * patches * patches * d;
        double projector = 2 * (4 * d * 4 * d + 4 * d * c.textHiddenSize());
        return patches * perPatch + attention + tokens * projector;
    }

    /** Random BF16 weights of K2.5's shapes, N(0, 0.02)-ish, LayerNorm gains 1 and biases 0.02-ish. */
    static Map<String, Tensor> syntheticWeights(VisionConfig c, Arena arena, long seed) {
        Random rnd = new Random(seed);
        Map<String, Tensor> w = new HashMap<>();
        int d = c.vtHiddenSize();
        put(w, arena, rnd, "vision_tower.patch_embed.proj.weight", 0.02f, d, 3, 14, 14);
        put(w, arena, rnd, "vision_tower.patch_embed.proj.bias", 0.02f, d);
        put(w, arena, rnd, "vision_tower.patch_embed.pos_emb.weight", 0.02f, 64, 64, d);
        for (int i = 0; i < c.vtNumHiddenLayers(); i++) {
            String p = "vision_tower.encoder.blocks." + i + ".";
            put(w, arena, rnd, p + "norm0.weight", -1f, d);
            put(w, arena, rnd, p + "norm0.bias", 0.02f, d);
            put(w, arena, rnd, p + "wqkv.weight", 0.02f, 3 * d, d);
            put(w, arena, rnd, p + "wqkv.bias", 0.02f, 3 * d);
            put(w, arena, rnd, p + "wo.weight", 0.02f, d, d);
            put(w, arena, rnd, p + "wo.bias", 0.02f, d);
            put(w, arena, rnd, p + "norm1.weight", -1f, d);
            put(w, arena, rnd, p + "norm1.bias", 0.02f, d);
            put(w, arena, rnd, p + "mlp.fc0.weight", 0.02f, c.vtIntermediateSize(), d);
            put(w, arena, rnd, p + "mlp.fc0.bias", 0.02f, c.vtIntermediateSize());
            put(w, arena, rnd, p + "mlp.fc1.weight", 0.02f, d, c.vtIntermediateSize());
            put(w, arena, rnd, p + "mlp.fc1.bias", 0.02f, d);
        }
        put(w, arena, rnd, "vision_tower.encoder.final_layernorm.weight", -1f, d);
        put(w, arena, rnd, "vision_tower.encoder.final_layernorm.bias", 0.02f, d);
        put(w, arena, rnd, "mm_projector.pre_norm.weight", -1f, d);
        put(w, arena, rnd, "mm_projector.pre_norm.bias", 0.02f, d);
        put(w, arena, rnd, "mm_projector.proj.0.weight", 0.02f, 4 * d, 4 * d);
        put(w, arena, rnd, "mm_projector.proj.0.bias", 0.02f, 4 * d);
        put(w, arena, rnd, "mm_projector.proj.2.weight", 0.02f, c.textHiddenSize(), 4 * d);
        put(w, arena, rnd, "mm_projector.proj.2.bias", 0.02f, c.textHiddenSize());
        return w;
    }

    /** {@code scale < 0}: all ones (a norm gain). Uniform in ±scale·√3 otherwise; bits from a fast LCG per tensor. */
    private static void put(Map<String, Tensor> w, Arena arena, Random rnd, String name, float scale, long... shape) {
        long n = Tensor.numel(shape);
        MemorySegment seg = arena.allocate(2 * n, 16);
        long state = rnd.nextLong() | 1;
        float amp = (float) (Math.abs(scale) * Math.sqrt(3));
        for (long i = 0; i < n; i++) {
            float v;
            if (scale < 0) {
                v = 1f;
            } else {
                state = state * 6364136223846793005L + 1442695040888963407L;
                v = amp * (((state >>> 40) / (float) (1 << 24)) * 2 - 1);
            }
            seg.setAtIndex(Tensor.BF16, i, (short) (Float.floatToRawIntBits(v) >>> 16));
        }
        w.put(name, new Tensor(name, DType.BF16, shape, seg));
    }

    /** The golden items' pixel_values as the preprocessor would have made them. */
    private Map<String, PreprocessedImage> goldenItems(Path vg, List<String> names) {
        try {
            JsonNode json = new ObjectMapper().readTree(vg.resolve("vision_golden.json").toFile());
            Map<String, PreprocessedImage> out = new java.util.LinkedHashMap<>();
            for (String name : names) {
                for (JsonNode item : json.get("items")) {
                    if (item.get("name").asText().equals(name)) {
                        JsonNode g = item.get("grid_thw");
                        GridThw grid = new GridThw(g.get(0).asInt(), g.get(1).asInt(), g.get(2).asInt());
                        float[] px = readF32(vg.resolve(name + ".pixel_values.f32.npy"));
                        out.put(name, image(px, grid, name));
                    }
                }
            }
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static PreprocessedImage image(float[] pixels, GridThw grid, String key) {
        int w = grid.w() * 14;
        int h = grid.h() * 14;
        return new PreprocessedImage(pixels, grid, grid.mergedTokens(2), new ResizePlan(w, h, w, h, 0, 0, 14, 2), key);
    }

    /** {@code frames} frames of gh × gw patches of uniform noise in [-1, 1]. */
    static PreprocessedImage noise(int frames, int gh, int gw, long seed) {
        Random rnd = new Random(seed);
        float[] px = new float[frames * gh * gw * 588];
        for (int i = 0; i < px.length; i++) {
            px[i] = rnd.nextFloat() * 2 - 1;
        }
        return image(px, new GridThw(frames, gh, gw), "noise" + seed);
    }

    static float[] readF32(Path p) {
        try {
            byte[] all = Files.readAllBytes(p);
            ByteBuffer b = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
            if (all.length < 10 || all[0] != (byte) 0x93 || !new String(all, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
                throw new IllegalArgumentException(p + ": not a .npy file");
            }
            int headerLen = all[6] == 1 ? Short.toUnsignedInt(b.getShort(8)) : b.getInt(8);
            int dataAt = all[6] == 1 ? 10 + headerLen : 12 + headerLen;
            String header = new String(all, all[6] == 1 ? 10 : 12, headerLen, StandardCharsets.US_ASCII);
            if (!header.contains("'<f4'") || header.contains("'fortran_order': True")) {
                throw new IllegalArgumentException(p + ": expected C-order <f4, header " + header.strip());
            }
            float[] out = new float[(all.length - dataAt) / 4];
            b.position(dataAt);
            b.asFloatBuffer().get(out);
            return out;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) {
            return Double.POSITIVE_INFINITY;
        }
        double m = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
        }
        return m;
    }

    static double maxAbs(float[] a) {
        double m = 0;
        for (float v : a) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
