package io.peregrine.engine.runtime;

import io.peregrine.engine.backend.cpu.CpuBackend;
import io.peregrine.engine.checkpoint.Checkpoint;
import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.KimiTextModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.model.StepLogits;
import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sample.SamplingRule;
import io.peregrine.engine.sched.SchedulerConfig;
import io.peregrine.engine.spec.Drafter;
import io.peregrine.engine.spec.SpeculativeConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Speculative decoding's costs on a real checkpoint (the {@code bench} demo preset), run by
 * {@code scripts/bench-speculative.sh}; a benchmark, not a test.
 * <ol>
 * <li>Verification cost: one step in which each of {@code batch} sequences scores {@code k + 1} tokens (its last
 * token and k drafts at positions {@code context ..}, the all-logits generated-token slice the engine builds) and
 * every row is sampled greedily, against the plain decode step ({@code k = 0}); median of the timed steps.</li>
 * <li>What it predicts: a step that emits {@code L} tokens (mean acceptance length) instead of one costs
 * {@code t(k+1)} instead of {@code L · t(1)}: speedup {@code L · t(1) / t(k+1)} for {@code L = 1 .. k+1}.</li>
 * <li>The oracle: the serving engine generates {@code tokens} greedy tokens for {@code batch} requests, plain and
 * with a drafter that drafts the target's own greedy continuation (from the plain run), so every draft is accepted
 * (L = k + 1 while drafts last): the time of the decode-only steps (prefill is the same either way), the speedup,
 * the mean acceptance length the engine reported, and whether the outputs equal plain decoding's.</li>
 * </ol>
 * Arguments: {@code DIR [threads] [context] [reps] [tokens] [parts]} (parts: a comma list of curve, oracle, real;
 * default all); DIR gets the bench preset when it lacks it.
 */
public final class SpeculativeBench {
    private static final int BLOCK = 16;
    private static final int MAX_K = 8;
    private static final int[] BATCHES = {1, 8};
    private static final int[] ORACLE_KS = {1, 2, 4, 8};
    private static final SamplingRule GREEDY = new SamplingRule(0, 1, 0, 0, 0, 0, 1);

    private SpeculativeBench() {}

    public static void main(String[] args) throws Exception {
        // written there when missing (~2.8 GB), reused when it is already the bench preset
        Path dir = io.peregrine.engine.checkpoint.demo.DemoCheckpoint.ensure(Path.of(args[0]), "bench");
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : Runtime.getRuntime().availableProcessors();
        int context = args.length > 2 ? Integer.parseInt(args[2]) : 256;
        int reps = args.length > 3 ? Integer.parseInt(args[3]) : 5;
        int tokens = args.length > 4 ? Integer.parseInt(args[4]) : 32;
        String parts = args.length > 5 ? args[5] : "curve,oracle,real";
        try (Checkpoint ck = Checkpoint.open(dir); CpuBackend backend = new CpuBackend(threads)) {
            KimiTextModel model = KimiTextModel.load(ck, backend);
            System.out.printf(Locale.ROOT, "checkpoint %s: %d layers, hidden %d, vocab %d; %d threads, context %d%n",
                    dir, model.config().numHiddenLayers(), model.config().hiddenSize(), model.config().vocabSize(),
                    threads, context);
            if (parts.contains("curve")) {
                Map<Integer, double[]> curve = new HashMap<>();
                for (int batch : BATCHES) {
                    curve.put(batch, verificationCurve(model, batch, context, reps));
                }
                System.out.println();
                System.out.println("## Verification step cost (median ms; ratio to the plain decode step)");
                System.out.print("| batch | k = 0 (decode) |");
                for (int k = 1; k <= MAX_K; k++) {
                    System.out.print(" k = " + k + " |");
                }
                System.out.println();
                System.out.println("|---|---|" + "---|".repeat(MAX_K));
                for (int batch : BATCHES) {
                    double[] t = curve.get(batch);
                    System.out.printf(Locale.ROOT, "| %d | %.1f |", batch, t[0]);
                    for (int k = 1; k <= MAX_K; k++) {
                        System.out.printf(Locale.ROOT, " %.1f (%.2f×) |", t[k], t[k] / t[0]);
                    }
                    System.out.println();
                }
                System.out.println();
                System.out.println("## Predicted speedup L · t(1) / t(k+1) by mean acceptance length L (tokens per step)");
                for (int batch : BATCHES) {
                    double[] t = curve.get(batch);
                    System.out.println("batch " + batch + ":");
                    System.out.print("| k |");
                    for (int l = 1; l <= MAX_K + 1; l++) {
                        System.out.print(" L = " + l + " |");
                    }
                    System.out.println(" break-even L |");
                    System.out.println("|---|" + "---|".repeat(MAX_K + 2));
                    for (int k = 1; k <= MAX_K; k++) {
                        System.out.print("| " + k + " |");
                        for (int l = 1; l <= MAX_K + 1; l++) {
                            System.out.print(l <= k + 1 ? String.format(Locale.ROOT, " %.2f |", l * t[0] / t[k]) : " |");
                        }
                        System.out.printf(Locale.ROOT, " %.2f |%n", t[k] / t[0]);
                    }
                }
            }
            if (parts.contains("oracle")) {
                System.out.println();
                System.out.println("## Oracle drafter (drafts = the target's own greedy continuation), " + tokens
                        + " tokens per request");
                System.out.println("| batch | k | decode steps | decode s | tokens/s | speedup | mean acceptance length "
                        + "| same output |");
                System.out.println("|---|---|---|---|---|---|---|---|");
                for (int batch : BATCHES) {
                    oracle(model, batch, context, tokens);
                }
            }
            if (parts.contains("real")) {
                System.out.println();
                System.out.println("## Real drafters on random weights: batch 1, a prompt repeating a span 4 times, "
                        + "k = 4");
                System.out.println("| drafter | decode steps | decode s | speedup | draft tokens | accepted | mean "
                        + "acceptance length | same output |");
                System.out.println("|---|---|---|---|---|---|---|---|");
                realDrafters(model, context, tokens);
            }
        }
    }

    /**
     * What the ngram and suffix drafters accept when the weights are random: almost nothing from the prompt; the
     * suffix drafter's cache of earlier outputs makes a repeated request's drafts right (what agentic traffic that
     * repeats itself gets).
     */
    private static void realDrafters(KimiTextModel model, int context, int tokens) throws Exception {
        int vocab = model.config().vocabSize();
        int[] span = prompt(3, context / 4, vocab);
        int[] p = new int[4 * span.length];
        for (int r = 0; r < 4; r++) {
            System.arraycopy(span, 0, p, r * span.length, span.length);
        }
        List<int[]> prompts = List.of(p);
        Counting base = new Counting();
        List<int[]> plain = run(model, prompts, tokens, 0, null, base);
        double plainSeconds = base.decodeNanos.get() / 1e9;
        System.out.printf(Locale.ROOT, "| plain | %d | %.2f | 1.00 | - | - | 1 | - |%n", base.decodeSteps.get(),
                plainSeconds);
        Drafter suffix = SpeculativeConfig.suffix(4).drafter();
        Object[][] drafters = {
            {"ngram (prompt_lookup 1..4)", SpeculativeConfig.ngram(4, 1, 4).drafter()},
            {"suffix, first time", suffix},
            {"suffix, same request again", suffix},
        };
        for (Object[] d : drafters) {
            Counting counting = new Counting();
            List<int[]> out = run(model, prompts, tokens, 4, (Drafter) d[1], counting);
            double seconds = counting.decodeNanos.get() / 1e9;
            double meanLength = counting.drafts.get() == 0 ? 1
                    : 1 + (double) counting.accepted.get() / counting.drafts.get();
            System.out.printf(Locale.ROOT, "| %s | %d | %.2f | %.2f | %d | %d | %.2f | %s |%n", d[0],
                    counting.decodeSteps.get(), seconds, plainSeconds / seconds, counting.draftTokens.get(),
                    counting.accepted.get(), meanLength, Arrays.equals(out.get(0), plain.get(0)) ? "yes" : "NO");
        }
    }

    /** Median step time in ms for k = 0 .. MAX_K at this batch. */
    private static double[] verificationCurve(KimiTextModel model, int batch, int context, int reps) {
        int blocksPer = (context + MAX_K + 1 + BLOCK - 1) / BLOCK;
        LatentCache cache = model.newCache(batch * blocksPer, BLOCK);
        int vocab = model.config().vocabSize();
        int[][] tables = new int[batch][blocksPer];
        for (int b = 0; b < batch; b++) {
            int first = b * blocksPer;
            Arrays.setAll(tables[b], i -> first + i);
            int[] prompt = prompt(b, context, vocab);
            model.step(List.of(new SequenceSlice(prompt, 0, tables[b], false, null, true)), cache);
        }
        SamplingBatch sampling = new SamplingBatch();
        double[] ms = new double[MAX_K + 1];
        for (int k = 0; k <= MAX_K; k++) {
            long[] times = new long[reps];
            for (int rep = -2; rep < reps; rep++) { // two untimed warm-up steps
                List<SequenceSlice> slices = new ArrayList<>(batch);
                for (int b = 0; b < batch; b++) {
                    int[] t = new int[k + 1];
                    for (int j = 0; j <= k; j++) {
                        t[j] = Math.floorMod(rep * 31 + b * 7 + j * 13 + 5, vocab);
                    }
                    slices.add(new SequenceSlice(t, context, tables[b], k > 0, null, false));
                }
                long t0 = System.nanoTime();
                StepLogits logits = model.step(slices, cache);
                sampling.clear();
                for (int r = 0; r < batch * (k + 1); r++) {
                    sampling.add(r, GREEDY, null, 0.0, null, -1);
                }
                logits.sample(sampling);
                long dt = System.nanoTime() - t0;
                if (rep >= 0) {
                    times[rep] = dt;
                }
            }
            Arrays.sort(times);
            ms[k] = times[reps / 2] / 1e6;
            System.out.printf(Locale.ROOT, "batch %d, k %d: median %.1f ms (min %.1f, max %.1f)%n", batch, k, ms[k],
                    times[0] / 1e6, times[reps - 1] / 1e6);
        }
        return ms;
    }

    private static int[] prompt(int b, int length, int vocab) {
        int[] p = new int[length];
        // ordinary ids below the special range, different per sequence
        Arrays.setAll(p, i -> (i * 7919 + b * 104729 + 11) % Math.min(vocab, 150000));
        return p;
    }

    /**
     * The engine's speculation counters, and the time of its decode-only steps (a step with a prefill chunk is left
     * out: prefill is the same with and without speculation, and would dilute the comparison).
     */
    private static final class Counting implements EngineListener {
        final AtomicLong drafts = new AtomicLong();
        final AtomicLong draftTokens = new AtomicLong();
        final AtomicLong accepted = new AtomicLong();
        final AtomicLong decodeNanos = new AtomicLong();
        final AtomicLong decodeSteps = new AtomicLong();
        private volatile boolean prefilled;

        @Override
        public void speculated(int drafted, int acceptedTokens) {
            drafts.incrementAndGet();
            draftTokens.addAndGet(drafted);
            accepted.addAndGet(acceptedTokens);
        }

        @Override
        public void prefillChunk(String requestId, int start, int count, long forwardStartNanos, long forwardNanos) {
            prefilled = true; // called before this step's step()
        }

        @Override
        public void step(int sequences, int tokens, long nanos) {
            if (!prefilled) {
                decodeNanos.addAndGet(nanos);
                decodeSteps.incrementAndGet();
            }
            prefilled = false;
        }
    }

    private static final TokenDecoder NO_TEXT = new TokenDecoder() {
        @Override
        public byte[] bytes(int tokenId) {
            return new byte[0];
        }

        @Override
        public boolean isSpecial(int tokenId) {
            return false;
        }
    };

    private static void oracle(KimiTextModel model, int batch, int context, int tokens) throws Exception {
        int vocab = model.config().vocabSize();
        List<int[]> prompts = new ArrayList<>();
        for (int b = 0; b < batch; b++) {
            prompts.add(prompt(b, context, vocab));
        }
        run(model, prompts, tokens, 0, null, new Counting()); // warm-up: JIT, page cache
        Counting base = new Counting();
        List<int[]> plain = run(model, prompts, tokens, 0, null, base);
        double plainSeconds = base.decodeNanos.get() / 1e9;
        System.out.printf(Locale.ROOT, "| %d | plain | %d | %.2f | %.2f | 1.00 | 1 | - |%n", batch,
                base.decodeSteps.get(), plainSeconds, batch * (tokens - 1) / plainSeconds);
        Drafter oracle = (seq, t, promptLength, length, max, out) -> {
            for (int i = 0; i < prompts.size(); i++) {
                int[] p = prompts.get(i);
                int[] gen = plain.get(i);
                int done = length - p.length;
                if (done < 0 || done > gen.length || !Arrays.equals(p, 0, p.length, t, 0, p.length)
                        || !Arrays.equals(gen, 0, done, t, p.length, length)) {
                    continue;
                }
                int n = Math.min(max, gen.length - done);
                System.arraycopy(gen, done, out, 0, n);
                return n;
            }
            return 0;
        };
        for (int k : ORACLE_KS) {
            Counting counting = new Counting();
            List<int[]> out = run(model, prompts, tokens, k, oracle, counting);
            double seconds = counting.decodeNanos.get() / 1e9;
            boolean same = true;
            for (int i = 0; i < out.size(); i++) {
                same &= Arrays.equals(out.get(i), plain.get(i));
            }
            double meanLength = counting.drafts.get() == 0 ? 1
                    : 1 + (double) counting.accepted.get() / counting.drafts.get();
            System.out.printf(Locale.ROOT, "| %d | %d | %d | %.2f | %.2f | %.2f | %.2f | %s |%n", batch, k,
                    counting.decodeSteps.get(), seconds, batch * (tokens - 1) / seconds, plainSeconds / seconds,
                    meanLength, same ? "yes" : "NO");
        }
    }

    /** Greedy outputs of {@code prompts} through the serving engine ({@code k = 0}: no speculation). */
    private static List<int[]> run(KimiTextModel model, List<int[]> prompts, int tokens, int k, Drafter drafter,
                                   EngineListener listener) throws Exception {
        int blocksPer = (prompts.get(0).length + tokens + MAX_K + 1 + BLOCK - 1) / BLOCK + 1;
        LatentCache cache = model.newCache(prompts.size() * blocksPer, BLOCK);
        SpeculativeConfig spec = k == 0 ? null : SpeculativeConfig.ngram(k, 1, 1); // k only: the drafter is the oracle
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(prompts.size(), 512), 8192, 1000, List.of(), false,
                spec);
        List<Recorder> recs = new ArrayList<>();
        try (ServingEngine engine = new ServingEngine(model, cache, cfg, NO_TEXT, listener, drafter)) {
            for (int i = 0; i < prompts.size(); i++) {
                Recorder rec = new Recorder(1);
                engine.submit(new GenerationRequest("b" + i, prompts.get(i), new SamplingParams(0.0, 1.0, 0, 0.0,
                        0.0, 0.0, 1.0, null, tokens, List.of(), List.of(), true, -1, 1), null), rec);
                recs.add(rec);
            }
            List<int[]> out = new ArrayList<>();
            for (Recorder rec : recs) {
                out.add(rec.await(600).tokens(0));
            }
            return out;
        }
    }
}
