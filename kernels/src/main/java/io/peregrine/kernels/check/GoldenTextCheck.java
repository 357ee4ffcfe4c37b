package io.peregrine.kernels.check;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.peregrine.engine.backend.Backend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The tiny golden checkpoint through the unchanged {@link KimiTextModel} on a given backend: every text-golden case's
 * prefill logits (all positions), then sixteen greedy steps decoded one token at a time through the latent cache
 * (absorbed attention), against the fp32 reference with the golden README's text tolerance (per row max|Δ| at most
 * 1e-3 absolute and 1e-4 × max|logit|), greedy ids exact. The same test as the engine's CPU golden test, with the
 * backend swapped.
 */
public final class GoldenTextCheck {
    static final double ABS = 1e-3;
    static final double REL_TO_MAX = 1e-4;
    static final int BLOCK = 16;

    private final Path golden;
    private final PrintStream out;
    public int checks;
    public int failures;
    /** The largest per-row max|Δ| seen, over its row's limit (1 = at the tolerance). */
    public double worstShare;

    /** @param golden the {@code testdata/golden} folder (tiny-k25/ and text-golden/ inside) */
    public GoldenTextCheck(Path golden, PrintStream out) {
        this.golden = golden;
        this.out = out;
    }

    public void run(Backend backend) {
        try (Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            JsonNode cases = new ObjectMapper().readTree(golden.resolve("text-golden/text_golden.json").toFile()).get("cases");
            for (JsonNode c : cases) {
                runCase(model, c.get("name").asText(), ints(c.get("prompt_ids")), ints(c.get("greedy_ids")));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * The greedy ids of every case as the engine decodes them: {@code step} and sampling in the backend (only ids
     * come back), with decode graphs when {@code graphs} (batch 1: bucket 1, captured on the first decode step, then
     * replayed). Ids exact; the logits are what {@link #run} holds to the tolerance.
     */
    public void runSteps(Backend backend, boolean graphs) {
        try (Checkpoint ck = Checkpoint.open(golden.resolve("tiny-k25"))) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            String mode = graphs ? "graphs " + (model.captureDecodeGraphs(1).length > 0 ? "on" : "unavailable")
                    : "eager";
            JsonNode cases = new ObjectMapper().readTree(golden.resolve("text-golden/text_golden.json").toFile()).get("cases");
            for (JsonNode c : cases) {
                int[] prompt = ints(c.get("prompt_ids"));
                int[] greedy = ints(c.get("greedy_ids"));
                int[] got = stepGreedy(model, prompt, greedy.length);
                boolean ok = java.util.Arrays.equals(greedy, got);
                checks++;
                failures += ok ? 0 : 1;
                out.printf("%-4s golden %-10s %d greedy ids through step + backend sampling (%s) %s%n", ok ? "ok" : "FAIL",
                        c.get("name").asText(), greedy.length, mode, ok ? "equal" : "DIFFER " + java.util.Arrays.toString(got));
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static int[] stepGreedy(KimiTextModel model, int[] prompt, int n) {
        int blocks = (prompt.length + n + BLOCK - 1) / BLOCK;
        LatentCache cache = model.newCache(blocks, BLOCK);
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            table[i] = blocks - 1 - i;
        }
        SamplingBatch batch = new SamplingBatch();
        var counts = model.tokenCounts(prompt, prompt.length);
        var rule = SamplingParams.greedy(n).rule();
        int[] ids = new int[n];
        SequenceSlice slice = new SequenceSlice(prompt, 0, table, false);
        for (int s = 0; s < n; s++) {
            batch.clear();
            batch.add(0, rule, counts, 0, null, -1);
            model.step(List.of(slice), cache).sample(batch);
            ids[s] = batch.token(0);
            slice = new SequenceSlice(new int[] {ids[s]}, prompt.length + s, table, false);
        }
        return ids;
    }

    private void runCase(KimiTextModel model, String name, int[] prompt, int[] greedy) {
        Path dir = golden.resolve("text-golden");
        float[][] expectedPrefill = readF32Matrix(dir.resolve(name + ".prefill_logits.f32.npy"));
        float[][] expectedSteps = readF32Matrix(dir.resolve(name + ".greedy_step_logits.f32.npy"));
        var cfg = model.config();
        int total = prompt.length + greedy.length;
        int blocks = (total + BLOCK - 1) / BLOCK;
        LatentCache cache = model.newCache(blocks, BLOCK);
        int[] table = new int[blocks];
        for (int i = 0; i < blocks; i++) {
            table[i] = blocks - 1 - i;  // backwards, so paging bugs cannot hide behind identity slots
        }
        float[][] prefill = model.forward(List.of(new SequenceSlice(prompt, 0, table, true)), cache).getFirst();
        double worst = 0;
        for (int t = 0; t < prefill.length; t++) {
            worst = Math.max(worst, share(expectedPrefill[t], prefill[t]));
        }
        int[] generated = new int[greedy.length];
        float[] last = prefill[prefill.length - 1];
        for (int s = 0; s < generated.length; s++) {
            worst = Math.max(worst, share(expectedSteps[s], last));
            generated[s] = argmax(last);
            if (s + 1 < generated.length) {
                last = model.forward(List.of(new SequenceSlice(new int[] {generated[s]}, prompt.length + s, table, false)),
                        cache).getFirst()[0];
            }
        }
        boolean idsOk = java.util.Arrays.equals(greedy, generated);
        boolean ok = worst <= 1 && idsOk;
        checks++;
        if (!ok) {
            failures++;
        }
        worstShare = Math.max(worstShare, worst);
        out.printf("%-4s golden %-10s prefill %3d rows + 16 greedy steps: worst row at %.3f of the tolerance, greedy ids %s%n",
                ok ? "ok" : "FAIL", name, prompt.length, worst, idsOk ? "equal" : "DIFFER " + java.util.Arrays.toString(generated));
    }

    /** Per-row max|Δ| over the README's limit, min(1e-3, 1e-4 · max|logit|); NaN counts as infinitely far. */
    static double share(float[] expected, float[] actual) {
        if (expected.length != actual.length) {
            return Double.POSITIVE_INFINITY;
        }
        double maxAbs = 0;
        double maxDiff = 0;
        for (int i = 0; i < expected.length; i++) {
            maxAbs = Math.max(maxAbs, Math.abs(expected[i]));
            double d = Math.abs((double) expected[i] - actual[i]);
            maxDiff = Double.isNaN(d) ? Double.POSITIVE_INFINITY : Math.max(maxDiff, d);
        }
        return maxDiff / Math.min(ABS, REL_TO_MAX * maxAbs);
    }

    static int argmax(float[] x) {
        int best = 0;
        for (int i = 1; i < x.length; i++) {
            if (x[i] > x[best]) {
                best = i;
            }
        }
        return best;
    }

    private static int[] ints(JsonNode a) {
        int[] o = new int[a.size()];
        for (int i = 0; i < o.length; i++) {
            o[i] = a.get(i).asInt();
        }
        return o;
    }

    /** A 2-D little-endian float32 {@code .npy} (format 1.0, C order), as the golden files are written. */
    static float[][] readF32Matrix(Path p) {
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
            String shape = header.substring(header.indexOf('(') + 1, header.indexOf(')'));
            String[] dims = shape.split(",");
            int rows = Integer.parseInt(dims[0].strip());
            int cols = Integer.parseInt(dims[1].strip());
            float[][] m = new float[rows][cols];
            b.position(dataAt);
            for (float[] row : m) {
                b.asFloatBuffer().get(row);
                b.position(b.position() + 4 * cols);
            }
            return m;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
