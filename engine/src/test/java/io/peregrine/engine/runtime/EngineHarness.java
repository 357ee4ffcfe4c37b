package io.peregrine.engine.runtime;

import io.peregrine.engine.kv.LatentCache;
import io.peregrine.engine.sample.PenaltyState;
import io.peregrine.engine.sample.Sampler;
import io.peregrine.engine.sample.SamplingParams;
import io.peregrine.engine.sched.SchedulerConfig;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/** Builds engines over the fake model and computes what a request must produce, without any engine. */
final class EngineHarness {
    private EngineHarness() {}

    static ServingEngine engine(FakeLanguageModel model, int blocks, int blockSize, int maxRunning,
                                int maxBatchedTokens, int maxWaiting, List<Integer> eos, EngineListener listener) {
        LatentCache cache = new LatentCache(FakeLanguageModel.LAYERS, blocks, blockSize, FakeLanguageModel.WIDTH);
        EngineConfig cfg = new EngineConfig(new SchedulerConfig(maxRunning, maxBatchedTokens), 4096, maxWaiting,
                eos, false);
        return new ServingEngine(model, cache, cfg, new FakeDecoder(), listener);
    }

    static ServingEngine engine(FakeLanguageModel model, int blocks, int blockSize) {
        return engine(model, blocks, blockSize, 64, 256, 1000, List.of(), EngineListener.NONE);
    }

    static SamplingParams greedy(int maxTokens) {
        return SamplingParams.greedy(maxTokens);
    }

    static SamplingParams seeded(long seed, double temperature, double topP, int topK, int maxTokens) {
        return new SamplingParams(temperature, topP, topK, 0.0, 0.0, 0.0, 1.0, seed, maxTokens, List.of(),
                List.of(), false, -1, 1);
    }

    static SamplingParams withN(SamplingParams p, int n) {
        return new SamplingParams(p.temperature(), p.topP(), p.topK(), p.minP(), p.presencePenalty(),
                p.frequencyPenalty(), p.repetitionPenalty(), p.seed(), p.maxTokens(), p.stop(), p.stopTokenIds(),
                p.ignoreEos(), p.logprobs(), n);
    }

    /** Choice {@code choice}'s tokens, from the model's logits over token ids alone (no cache, no batch). */
    static int[] expected(int[] prompt, SamplingParams p, int choice, Set<Integer> eos) {
        Sampler sampler = new Sampler();
        PenaltyState penalties = new PenaltyState(prompt, prompt.length);
        SplittableRandom rng = new SplittableRandom(
                (p.seed() == null ? 0 : p.seed()) + 0x9E3779B97F4A7C15L * choice);
        int[] toks = Arrays.copyOf(prompt, prompt.length + p.maxTokens());
        int len = prompt.length;
        for (int i = 0; i < p.maxTokens(); i++) {
            int t = sampler.sample(FakeLanguageModel.reference(toks, len), p, penalties, rng);
            penalties.accept(t);
            toks[len++] = t;
            if ((!p.ignoreEos() && eos.contains(t)) || p.stopTokenIds().contains(t)) {
                break;
            }
        }
        return Arrays.copyOfRange(toks, prompt.length, len);
    }

    static int[] randomPrompt(SplittableRandom r, int length) {
        int[] p = new int[length];
        for (int i = 0; i < length; i++) {
            p[i] = r.nextInt(FakeLanguageModel.VOCAB);
        }
        return p;
    }

    static int[] concat(int[] a, int[] b) {
        int[] c = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, c, a.length, b.length);
        return c;
    }

    /** Waits until the engine thread has retired every request and the cache is back to no referenced blocks. */
    static void awaitIdle(ServingEngine engine) throws InterruptedException {
        long end = System.nanoTime() + 10_000_000_000L;
        while ((engine.activeRequests() > 0 || engine.stats().kvBlocksUsed() > 0 || engine.stats().running() > 0)
                && System.nanoTime() < end) {
            Thread.sleep(2);
        }
    }
}
