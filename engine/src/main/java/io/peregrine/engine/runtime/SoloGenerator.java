package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.model.LanguageModel;
import io.peregrine.engine.model.SequenceSlice;
import io.peregrine.engine.sample.Sampler;
import io.peregrine.engine.sample.SamplingParams;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Generates for one sequence with a private cache: prefill the prompt, then decode one token per step through the
 * cache. For the {@code generate} command and benchmarks; serving goes through the engine runtime's scheduler.
 */
public final class SoloGenerator {
    /** A finished run; {@code stepLogits[s]} produced {@code tokens[s]}. Times in nanoseconds. */
    public record Result(int[] tokens, float[][] stepLogits, long prefillNanos, long decodeNanos) {
        public double decodeTokensPerSecond() {
            return tokens.length <= 1 ? 0 : (tokens.length - 1) * 1e9 / decodeNanos;
        }

        public double prefillTokensPerSecond(int promptLength) {
            return promptLength * 1e9 / prefillNanos;
        }
    }

    /** Receives each new token as soon as it is chosen. */
    @FunctionalInterface
    public interface TokenSink {
        void accept(int step, int token);
    }

    private static final int BLOCK = 16;

    private final LanguageModel model;

    public SoloGenerator(LanguageModel model) {
        this.model = model;
    }

    /**
     * @param temperature 0 for greedy (ties to the lowest id), else softmax sampling at that temperature
     * @param stopIds     ids that end generation (they are included in the result)
     * @param keepLogits  keep every step's logits (memory: {@code maxTokens × vocab} floats)
     */
    public Result generate(int[] prompt, int maxTokens, double temperature, long seed, Set<Integer> stopIds,
                           boolean keepLogits, TokenSink sink) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("the prompt is empty");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("max tokens must be at least 1, got " + maxTokens);
        }
        if (temperature < 0 || Double.isNaN(temperature)) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + temperature);
        }
        int positions = prompt.length + maxTokens;
        int blocks = (positions + BLOCK - 1) / BLOCK;
        LatentCache cache = model.newCache(blocks, BLOCK);
        int[] table = new int[blocks];
        Arrays.setAll(table, i -> i);
        // The engine's own sampler, so `generate` and the server agree on what a temperature means.
        Sampler sampler = new Sampler();
        SamplingParams params = new SamplingParams(temperature, 1.0, 0, 0.0, 0.0, 0.0, 1.0, seed, maxTokens,
                List.of(), List.of(), true, -1, 1);
        SplittableRandom rnd = new SplittableRandom(seed);
        int[] out = new int[maxTokens];
        float[][] logits = keepLogits ? new float[maxTokens][] : null;

        long t0 = System.nanoTime();
        float[] last = model.forward(List.of(new SequenceSlice(prompt, 0, table, false)), cache).getFirst()[0];
        long t1 = System.nanoTime();
        int produced = 0;
        while (true) {
            int next = sampler.sample(last, params, null, rnd);
            if (logits != null) {
                logits[produced] = last;
            }
            out[produced] = next;
            sink.accept(produced, next);
            produced++;
            if (produced == maxTokens || stopIds.contains(next)) {
                break;
            }
            last = model.forward(List.of(new SequenceSlice(new int[] {next}, prompt.length + produced - 1, table, false)),
                    cache).getFirst()[0];
        }
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(out, produced), logits == null ? null : Arrays.copyOf(logits, produced),
                t1 - t0, t2 - t1);
    }
}
