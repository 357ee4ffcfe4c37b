package io.peregrine.engine.sample;

import io.peregrine.engine.backend.TokenCounts;
import java.util.Arrays;

/**
 * One step's sampling, as the backend sees it: one row per choice that samples now, each naming the step's logits
 * row it draws from (siblings of an {@code n > 1} request share one), its rule, its token counts (updated by the
 * backend with the sampled token), its uniform draw from the choice's own seeded generator, the packed bitmask of
 * the tokens a constraint allows (null when unconstrained; bit {@code t % 64} of word {@code t / 64}) and how many
 * top logprobs it wants (-1: none). The backend writes back only the sampled ids and the requested logprobs.
 * Reused step after step on the engine thread.
 */
public final class SamplingBatch {
    /** Top logprobs OpenAI allows. */
    public static final int MAX_TOP = 20;

    private int rows;
    private int[] logitsRow = new int[8];
    private SamplingRule[] rule = new SamplingRule[8];
    private TokenCounts[] counts = new TokenCounts[8];
    private double[] draw = new double[8];
    private long[][] allowed = new long[8][];
    private int[] top = new int[8];
    private int[] token = new int[8];
    private float[] logprob = new float[8];
    private int[] topCount = new int[8];
    private int[][] topIds = new int[8][];
    private float[][] topLogprobs = new float[8][];
    private BatchSampler hostSampler;

    /** The sampler for logits a model keeps on the host (fakes, models without a backend), made once. */
    public BatchSampler hostSampler() {
        if (hostSampler == null) {
            hostSampler = new BatchSampler();
        }
        return hostSampler;
    }

    public void clear() {
        Arrays.fill(counts, 0, rows, null);
        Arrays.fill(allowed, 0, rows, null);
        Arrays.fill(rule, 0, rows, null);
        rows = 0;
    }

    /** Adds a row and returns its index. */
    public int add(int logitsRow, SamplingRule rule, TokenCounts counts, double draw, long[] allowed, int wanted) {
        if (wanted > MAX_TOP) {
            throw new IllegalArgumentException(wanted + " top logprobs, at most " + MAX_TOP);
        }
        if (rows == this.logitsRow.length) {
            grow(2 * rows);
        }
        int i = rows++;
        this.logitsRow[i] = logitsRow;
        this.rule[i] = rule;
        this.counts[i] = counts;
        this.draw[i] = draw;
        this.allowed[i] = allowed;
        this.top[i] = wanted;
        token[i] = -1;
        topCount[i] = 0;
        if (wanted > 0 && topIds[i] == null) {
            topIds[i] = new int[MAX_TOP];
            topLogprobs[i] = new float[MAX_TOP];
        }
        return i;
    }

    private void grow(int n) {
        logitsRow = Arrays.copyOf(logitsRow, n);
        rule = Arrays.copyOf(rule, n);
        counts = Arrays.copyOf(counts, n);
        draw = Arrays.copyOf(draw, n);
        allowed = Arrays.copyOf(allowed, n);
        top = Arrays.copyOf(top, n);
        token = Arrays.copyOf(token, n);
        logprob = Arrays.copyOf(logprob, n);
        topCount = Arrays.copyOf(topCount, n);
        topIds = Arrays.copyOf(topIds, n);
        topLogprobs = Arrays.copyOf(topLogprobs, n);
    }

    /** A bitmask for a vocabulary of {@code vocab} tokens, none allowed. */
    public static long[] mask(int vocab) {
        return new long[(vocab + 63) >>> 6];
    }

    public static boolean allows(long[] mask, int token) {
        return (mask[token >>> 6] & (1L << token)) != 0;
    }

    public int rows() {
        return rows;
    }

    public int logitsRow(int i) {
        return logitsRow[i];
    }

    public SamplingRule rule(int i) {
        return rule[i];
    }

    public TokenCounts counts(int i) {
        return counts[i];
    }

    public double draw(int i) {
        return draw[i];
    }

    /** The row's allowed-token bitmask, or null. */
    public long[] allowed(int i) {
        return allowed[i];
    }

    /** Top logprobs wanted: -1 none, 0 only the chosen token's. */
    public int topLogprobs(int i) {
        return top[i];
    }

    // ---- results --------------------------------------------------------------------------------------------

    public int token(int i) {
        return token[i];
    }

    public float logprob(int i) {
        return logprob[i];
    }

    public int topCount(int i) {
        return topCount[i];
    }

    public int topId(int i, int j) {
        return topIds[i][j];
    }

    public float topLogprob(int i, int j) {
        return topLogprobs[i][j];
    }

    /** Backends record row {@code i}'s result here. */
    public void setToken(int i, int token) {
        this.token[i] = token;
    }

    public void setLogprob(int i, float logprob) {
        this.logprob[i] = logprob;
    }

    public void setTop(int i, int j, int id, float logprob) {
        topIds[i][j] = id;
        topLogprobs[i][j] = logprob;
        topCount[i] = Math.max(topCount[i], j + 1);
    }
}
