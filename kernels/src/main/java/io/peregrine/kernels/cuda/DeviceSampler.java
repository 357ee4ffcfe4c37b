package io.peregrine.kernels.cuda;

import io.peregrine.engine.sample.SamplingBatch;
import io.peregrine.engine.sample.SamplingRule;
import java.lang.ref.Cleaner;
import java.util.Arrays;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.locks.ReentrantLock;

/**
 * {@link CudaBackend}'s sampling: one {@code pg_sample_rows} launch per step over the logits where they are, after
 * one upload of the step's sampling rows (12 doubles each) and, only for constrained rows, their bitmask rows; one
 * download of the sampled ids and logprobs (the top-logprob block only when a row asked for it). The penalty counts
 * live in a device pool of {@code vocab}-word slots ({@link DeviceTokenCounts}). Buffers grow to the largest step
 * seen and are kept; a step of a size seen before allocates nothing on the device. Not thread-safe: the backend's lock.
 */
final class DeviceSampler {
    static final int PARAMS = DeviceOps.SAMPLE_PARAMS;
    /** Ids + logprobs per row, then {@link SamplingBatch#MAX_TOP} ids and as many logprobs. */
    static final int TOP_WORDS = 2 * SamplingBatch.MAX_TOP;
    /** The kernel's codes in place of a token id. */
    static final int NO_ALLOWED_TOKEN = -2;
    static final int ALL_NEG_INF = -3;

    private final CudaContext ctx;
    private final DeviceOps ops;
    /** The backend's lock: a fork's device copy may come from outside a backend call. */
    private final ReentrantLock lock;
    private final Cleaner cleaner = Cleaner.create();
    private final ConcurrentLinkedQueue<Integer> freed = new ConcurrentLinkedQueue<>();

    private int vocab = -1;
    private DeviceBuffer pool;
    private int poolSlots;
    private int nextSlot;

    private double[] params = new double[0];
    private long[] masks = new long[0];
    private int[] results = new int[0];
    private DeviceBuffer dParams;
    private DeviceBuffer dMasks;
    private DeviceBuffer dResults;
    private DeviceBuffer dWeights;
    private DeviceBuffer dPrompt;

    DeviceSampler(CudaContext ctx, ReentrantLock lock) {
        this.ctx = ctx;
        this.ops = new DeviceOps(ctx);
        this.lock = lock;
    }

    DeviceTokenCounts counts(int[] prompt, int length) {
        return new DeviceTokenCounts(this, prompt, length);
    }

    /**
     * Samples every row of {@code b} from its row of {@code logits} (a row of {@code vocab} floats every
     * {@code stride}) and writes the ids and requested logprobs into {@code b}.
     */
    void sample(DeviceBuffer logits, int logitRows, int stride, int vocab, SamplingBatch b) {
        int rows = b.rows();
        if (rows == 0) {
            return;
        }
        useVocab(vocab);
        int words = (vocab + 63) >>> 6;
        int constrained = 0;
        boolean anyTop = false;
        boolean anyRandom = false;
        ensureHost(rows, words, b);
        for (int i = 0; i < rows; i++) {
            int at = i * PARAMS;
            SamplingRule r = b.rule(i);
            int logitsRow = b.logitsRow(i);
            if (logitsRow < 0 || logitsRow >= logitRows) {
                throw new IllegalArgumentException("sampling row " + i + " reads logits row " + logitsRow + " of " + logitRows);
            }
            long[] allowed = b.allowed(i);
            int maskRow = -1;
            if (allowed != null) {
                System.arraycopy(allowed, 0, masks, constrained * words, words);
                maskRow = constrained++;
            }
            params[at] = logitsRow;
            params[at + 1] = b.counts(i) == null ? -1 : counts(b.counts(i)).slot();
            params[at + 2] = maskRow;
            params[at + 3] = b.topLogprobs(i);
            params[at + 4] = r.topK();
            params[at + 5] = r.temperature();
            params[at + 6] = r.topP();
            params[at + 7] = r.minP();
            params[at + 8] = r.presencePenalty();
            params[at + 9] = r.frequencyPenalty();
            params[at + 10] = r.repetitionPenalty();
            params[at + 11] = r.greedy() ? 0.0 : b.draw(i);
            anyTop |= b.topLogprobs(i) > 0;
            anyRandom |= !r.greedy();
        }
        dParams = fit(dParams, 8L * rows * PARAMS);
        dParams.upload(params, rows * PARAMS);
        if (constrained > 0) {
            dMasks = fit(dMasks, 8L * constrained * words);
            dMasks.upload(masks, constrained * words);
        }
        int resultWords = rows * (2 + TOP_WORDS);
        dResults = fit(dResults, 4L * resultWords);
        if (anyRandom) {
            dWeights = fit(dWeights, 8L * rows * vocab);
        }
        ops.sampleRows(logits, stride, vocab, rows, dParams, constrained > 0 ? dMasks : KernelArgs.NULL, words,
                pool != null ? pool : KernelArgs.NULL, anyRandom ? dWeights : KernelArgs.NULL, SamplingBatch.MAX_TOP,
                dResults);
        dResults.download(results, anyTop ? resultWords : 2 * rows);
        for (int i = 0; i < rows; i++) {
            int token = results[i];
            if (token == NO_ALLOWED_TOKEN) {
                throw new IllegalStateException("the token constraint allows no token");
            }
            if (token == ALL_NEG_INF) {
                throw new IllegalStateException("every token has -inf logit");
            }
            b.setToken(i, token);
            int top = b.topLogprobs(i);
            if (top >= 0) {
                b.setLogprob(i, Float.intBitsToFloat(results[rows + i]));
                int at = 2 * rows + i * TOP_WORDS;
                for (int j = 0; j < top && results[at + j] >= 0; j++) {
                    b.setTop(i, j, results[at + j], Float.intBitsToFloat(results[at + SamplingBatch.MAX_TOP + j]));
                }
            }
        }
    }

    private DeviceTokenCounts counts(io.peregrine.engine.backend.TokenCounts c) {
        if (c instanceof DeviceTokenCounts d) {
            return d;
        }
        throw new IllegalArgumentException("token counts of another backend: " + c.getClass().getName());
    }

    private void ensureHost(int rows, int words, SamplingBatch b) {
        if (params.length < rows * PARAMS) {
            params = new double[rows * PARAMS];
            results = new int[rows * (2 + TOP_WORDS)];
        }
        int constrained = 0;
        for (int i = 0; i < rows; i++) {
            if (b.allowed(i) != null) {
                constrained++;
            }
        }
        if (masks.length < constrained * words) {
            masks = new long[constrained * words];
        }
    }

    private void useVocab(int v) {
        if (vocab < 0) {
            vocab = v;
        } else if (vocab != v) {
            throw new IllegalArgumentException("logits of " + v + " tokens; this backend's counts are for " + vocab);
        }
    }

    /** A device buffer of at least {@code bytes}: the one given when it fits, else a larger one (the old freed). */
    private DeviceBuffer fit(DeviceBuffer b, long bytes) {
        if (b != null && b.bytes() >= bytes) {
            return b;
        }
        if (b != null) {
            b.close();
        }
        return ctx.alloc(Math.max(bytes, b == null ? 0 : 2 * b.bytes()));
    }

    // ---- the counts pool ----------------------------------------------------------------------------------------

    int placePrompt(DeviceTokenCounts owner, int[] prompt) {
        int slot = takeSlot(owner);
        DeviceBuffer s = slotBuffer(slot);
        ctx.fill32(s.ptr(), 0, vocab);
        if (prompt.length > 0) {
            dPrompt = fit(dPrompt, 4L * prompt.length);
            dPrompt.upload(prompt);
            ctx.launch(KernelName.COUNTS_SEEN, Geometries.elementwise(prompt.length), s, dPrompt, prompt.length, vocab);
        }
        return slot;
    }

    int forkSlot(DeviceTokenCounts owner, int parentSlot) {
        lock.lock();
        try {
            int slot = takeSlot(owner);
            ctx.launch(KernelName.COPY_WORDS, Geometries.elementwise(vocab), slotBuffer(parentSlot), slotBuffer(slot),
                    (long) vocab);
            return slot;
        } finally {
            lock.unlock();
        }
    }

    private DeviceBuffer slotBuffer(int slot) {
        return pool.at(4L * slot * vocab);
    }

    private int takeSlot(DeviceTokenCounts owner) {
        if (vocab < 0) {
            throw new IllegalStateException("token counts placed before any logits were sampled");
        }
        Integer reused = freed.poll();
        int slot;
        if (reused != null) {
            slot = reused;
        } else {
            if (nextSlot == poolSlots) {
                grow(Math.max(16, 2 * poolSlots));
            }
            slot = nextSlot++;
        }
        cleaner.register(owner, () -> freed.add(slot));
        return slot;
    }

    private void grow(int slots) {
        DeviceBuffer bigger = ctx.alloc(4L * slots * vocab);
        if (pool != null) {
            ctx.launch(KernelName.COPY_WORDS, Geometries.elementwise((long) poolSlots * vocab), pool, bigger,
                    (long) poolSlots * vocab);
            pool.close();
        }
        pool = bigger;
        poolSlots = slots;
    }

    /** Frees the device buffers (the backend closes its context after this). */
    void close() {
        for (DeviceBuffer b : Arrays.asList(pool, dParams, dMasks, dResults, dWeights, dPrompt)) {
            if (b != null) {
                b.close();
            }
        }
    }

    int slotsInUse() {
        return nextSlot - freed.size();
    }
}
