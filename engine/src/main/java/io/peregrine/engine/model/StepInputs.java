package io.peregrine.engine.model;

import io.peregrine.engine.config.TextConfig;
import io.peregrine.engine.kv.LatentCache;
import java.util.Arrays;
import java.util.List;

/**
 * A step's inputs flattened once from the scheduled slices, on the host (nano-vllm's {@code prepare_prefill} /
 * {@code prepare_decode}): one row per new token, token ids, positions, the cache slot each new latent goes to, the
 * cache slots each attention reads, the rows that need logits and the media rows that replace embeddings. The
 * model uploads them once per step ({@link Workspace#bind}).
 *
 * <p>Each slice attends in one of MLA's two forms (spec §3.2). <em>Absorbed</em>: a single token (a decode), or a
 * multi-token chunk for which the absorbed form costs fewer multiply-adds ({@link #absorbedIsCheaper}: a short chunk
 * deep into a long prompt, which the scheduler's prefill budget makes); on a batch-invariant backend exactly the
 * generated tokens (decodes and speculative verification rows), never a prompt chunk of any length, so a token's bits
 * depend neither on where chunking cut its prompt nor on speculation; each of its rows is one query over its own causal context, the slots of positions
 * {@code 0 ..} its own, so all absorbed rows of the step are one batched attention. <em>Naive</em>: the other
 * multi-token slices, each over the slots of its whole context.
 *
 * <p>Rows are ordered absorbed slices first, then the naive ones, each slice's rows contiguous and both groups in
 * batch order; placement {@code p} is the {@code p}-th slice in that order. The context holds one slot range per
 * absorbed row ({@link #absorbedStarts}), then one per naive slice ({@link #contextStart}). Logits rows keep the
 * batch's order. The arrays are reused from step to step (grown, never shrunk), so the engine thread allocates
 * nothing here once warm.
 */
final class StepInputs {
    private final TextConfig cfg;
    private final boolean batchInvariant;
    private int rows;
    private int slices;
    private int absorbedSlices;
    private int absorbedRows;
    private int logitRows;
    private int contextSlots;
    private int media;
    private int[] tokens = new int[16];
    private int[] positions = new int[16];
    private int[] slots = new int[16];
    private int[] logitRowIndex = new int[16];
    /** By placement: the slice's index in the batch, first row, row count, start position, context start. */
    private int[] sliceOf = new int[16];
    private int[] firstRow = new int[16];
    private int[] rowCount = new int[16];
    private int[] startPos = new int[16];
    private int[] contextStart = new int[17];
    /** By absorbed row, and one past the last: where its context begins. */
    private int[] absorbedStarts = new int[17];
    private int[] context = new int[64];
    /** By batch index: the slice's placement, and whether it attends in the absorbed form. */
    private int[] placementOf = new int[16];
    private boolean[] absorbed = new boolean[16];
    private int[] mediaRow = new int[4];
    private float[][] mediaValues = new float[4][];

    /** Inputs for steps of the model {@code cfg}, on a backend that is (or is not) batch-invariant. */
    StepInputs(TextConfig cfg, boolean batchInvariant) {
        this.cfg = cfg;
        this.batchInvariant = batchInvariant;
    }

    /** Rebuilds the inputs for {@code batch} over {@code cache}, checking block tables, ids and embedding rows. */
    StepInputs build(List<SequenceSlice> batch, LatentCache cache) {
        Arrays.fill(mediaValues, 0, media, null);
        slices = batch.size();
        rows = 0;
        absorbedSlices = 0;
        absorbedRows = 0;
        logitRows = 0;
        contextSlots = 0;
        media = 0;
        if (absorbed.length < slices) {
            absorbed = new boolean[Math.max(slices, 2 * absorbed.length)];
        }
        int total = 0;
        int absorbedTotal = 0;
        long contexts = 0;
        for (int i = 0; i < slices; i++) {
            SequenceSlice s = batch.get(i);
            int n = s.tokens().length;
            absorbed[i] = batchInvariant ? !s.prompt() : n == 1 || absorbedIsCheaper(n, s.startPos());
            total += n;
            if (absorbed[i]) {
                absorbedSlices++;
                absorbedTotal += n;
                contexts += pairs(n, s.startPos());
            } else {
                contexts += s.endPos();
            }
            checkBlocks(i, s, cache);
        }
        ensure(total, absorbedTotal, Math.toIntExact(contexts));
        // absorbed slices first, then the naive ones, both in batch order
        int placed = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < slices; i++) {
                if (absorbed[i] == (pass == 0)) {
                    place(placed++, i, batch.get(i), cache);
                }
            }
        }
        for (int i = 0; i < slices; i++) {
            SequenceSlice s = batch.get(i);
            int p = placementOf[i];
            int len = s.allLogits() ? rowCount[p] : 1;
            int from = firstRow[p] + rowCount[p] - len;
            for (int r = 0; r < len; r++) {
                logitRowIndex[logitRows++] = from + r;
            }
        }
        return this;
    }

    /**
     * Whether this step is a plain decode: every slice one token in the absorbed form, no media rows, one logits row
     * per slice (so rows, slices and logits rows coincide, in batch order). Only such a step runs as a captured graph.
     */
    boolean plainDecode() {
        return rows > 0 && absorbedRows == rows && slices == rows && logitRows == rows && media == 0;
    }

    /**
     * Pads a {@link #plainDecode()} step to {@code bucket} rows with dummy decodes: token 0 at position 0, writing its
     * latent to {@code padSlot} and attending to that slot alone, its logits row its own. Their results are never
     * sampled and no sequence's slot is touched. The padded step has the same shape for every batch of the bucket.
     */
    StepInputs padDecode(int bucket, int padSlot) {
        if (!plainDecode() || bucket < rows) {
            throw new IllegalStateException("padding a step of " + rows + " rows (" + absorbedRows + " absorbed, "
                    + slices + " slices) to " + bucket);
        }
        int pads = bucket - rows;
        keep(bucket, contextSlots + pads);
        for (int r = rows; r < bucket; r++) {
            sliceOf[r] = -1;
            firstRow[r] = r;
            rowCount[r] = 1;
            startPos[r] = 0;
            contextStart[r] = contextSlots;
            absorbedStarts[r] = contextSlots;
            context[contextSlots++] = padSlot;
            contextStart[r + 1] = contextSlots;
            tokens[r] = 0;
            positions[r] = 0;
            slots[r] = padSlot;
            logitRowIndex[r] = r;
        }
        absorbedStarts[bucket] = contextSlots;
        slices = bucket;
        rows = bucket;
        absorbedRows = bucket;
        absorbedSlices = bucket;
        logitRows = bucket;
        return this;
    }

    /**
     * Multiply-adds of a chunk of {@code n} tokens after {@code start} in each form: the naive one expands the latents
     * of all {@code start + n} positions through kv_b_proj, then attends per head in (qk, v) space; the absorbed one
     * folds kv_b_proj into each query and output ({@code n · heads · rank · (nope + v)}) and attends in the latent
     * space (rank twice, plus rope). Deep into a prompt and for few tokens the absorbed form is far cheaper.
     */
    boolean absorbedIsCheaper(int n, int start) {
        long heads = cfg.numAttentionHeads();
        long rank = cfg.kvLoraRank();
        long nope = cfg.qkNopeHeadDim();
        long v = cfg.vHeadDim();
        long pairs = pairs(n, start);
        long naive = (start + (long) n) * rank * heads * (nope + v) + pairs * heads * (cfg.qkHeadDim() + v);
        long absorbed = n * heads * rank * (nope + v) + pairs * heads * (2 * rank + cfg.qkRopeHeadDim());
        return absorbed < naive;
    }

    /** Causal (query, position) pairs of {@code n} new tokens after {@code start}. */
    private static long pairs(int n, int start) {
        return (long) n * start + (long) n * (n + 1) / 2;
    }

    private void place(int p, int i, SequenceSlice s, LatentCache cache) {
        sliceOf[p] = i;
        placementOf[i] = p;
        firstRow[p] = rows;
        rowCount[p] = s.tokens().length;
        startPos[p] = s.startPos();
        contextStart[p] = contextSlots;
        if (absorbed[i]) {
            // row t attends to positions 0 .. startPos + t: the previous row's range and its own slot
            for (int t = 0; t < s.tokens().length; t++) {
                int own = s.startPos() + t;
                absorbedStarts[absorbedRows] = contextSlots;
                if (t == 0) {
                    for (int pos = 0; pos < own; pos++) {
                        context[contextSlots++] = cache.slot(s.blockTable(), pos);
                    }
                } else {
                    System.arraycopy(context, absorbedStarts[absorbedRows - 1], context, contextSlots, own);
                    contextSlots += own;
                }
                context[contextSlots++] = cache.slot(s.blockTable(), own);
                absorbedRows++;
            }
            absorbedStarts[absorbedRows] = contextSlots;
        } else {
            for (int pos = 0; pos < s.endPos(); pos++) {
                context[contextSlots++] = cache.slot(s.blockTable(), pos);
            }
        }
        contextStart[p + 1] = contextSlots;
        int vocab = cfg.vocabSize();
        int hidden = cfg.hiddenSize();
        for (int t = 0; t < s.tokens().length; t++) {
            int id = s.tokens()[t];
            if (id < 0 || id >= vocab) {
                throw new IllegalArgumentException("token id " + id + " outside the vocabulary 0.." + (vocab - 1));
            }
            int pos = s.startPos() + t;
            tokens[rows] = id;
            positions[rows] = pos;
            slots[rows] = cache.slot(s.blockTable(), pos);
            float[] override = s.inputEmbedding(t);
            if (override != null) {
                if (override.length != hidden) {
                    throw new IllegalArgumentException("slice " + i + ": input embedding of position " + pos + " has "
                            + override.length + " values, hidden size is " + hidden);
                }
                if (media == mediaRow.length) {
                    mediaRow = Arrays.copyOf(mediaRow, 2 * media);
                    mediaValues = Arrays.copyOf(mediaValues, 2 * media);
                }
                mediaRow[media] = rows;
                mediaValues[media++] = override;
            }
            rows++;
        }
    }

    private static void checkBlocks(int i, SequenceSlice s, LatentCache cache) {
        if ((long) s.blockTable().length * cache.blockSize() < s.endPos()) {
            throw new IllegalArgumentException("slice " + i + ": block table of " + s.blockTable().length
                    + " blocks covers " + (long) s.blockTable().length * cache.blockSize() + " positions, needs "
                    + s.endPos());
        }
        for (int blk : s.blockTable()) {
            if (blk < 0 || blk >= cache.numBlocks()) {
                throw new IllegalArgumentException("slice " + i + ": block " + blk + " outside the cache's "
                        + cache.numBlocks());
            }
        }
    }

    /** Grows the arrays to {@code rows} rows and slices and {@code contexts} slots, keeping what they hold. */
    private void keep(int rows, int contexts) {
        if (tokens.length < rows) {
            tokens = Arrays.copyOf(tokens, rows);
            positions = Arrays.copyOf(positions, rows);
            slots = Arrays.copyOf(slots, rows);
            logitRowIndex = Arrays.copyOf(logitRowIndex, rows);
        }
        if (sliceOf.length < rows) {
            sliceOf = Arrays.copyOf(sliceOf, rows);
            firstRow = Arrays.copyOf(firstRow, rows);
            rowCount = Arrays.copyOf(rowCount, rows);
            startPos = Arrays.copyOf(startPos, rows);
            placementOf = Arrays.copyOf(placementOf, rows);
            contextStart = Arrays.copyOf(contextStart, rows + 1);
        }
        if (absorbedStarts.length < rows + 1) {
            absorbedStarts = Arrays.copyOf(absorbedStarts, rows + 1);
        }
        if (context.length < contexts) {
            context = Arrays.copyOf(context, Math.max(contexts, 2 * context.length));
        }
    }

    private void ensure(int total, int absorbedTotal, int contexts) {
        if (tokens.length < total) {
            int n = Math.max(total, 2 * tokens.length);
            tokens = new int[n];
            positions = new int[n];
            slots = new int[n];
            logitRowIndex = new int[n];
        }
        if (sliceOf.length < slices) {
            int n = Math.max(slices, 2 * sliceOf.length);
            sliceOf = new int[n];
            firstRow = new int[n];
            rowCount = new int[n];
            startPos = new int[n];
            placementOf = new int[n];
            contextStart = new int[n + 1];
        }
        if (absorbedStarts.length < absorbedTotal + 1) {
            absorbedStarts = new int[Math.max(absorbedTotal + 1, 2 * absorbedStarts.length)];
        }
        if (context.length < contexts) {
            context = new int[Math.max(contexts, 2 * context.length)];
        }
    }

    /** New tokens in the step. */
    int rows() {
        return rows;
    }

    int slices() {
        return slices;
    }

    /** Slices in the absorbed form: placements {@code 0 .. absorbedSlices-1}. */
    int absorbedSlices() {
        return absorbedSlices;
    }

    /** Their rows: {@code 0 .. absorbedRows-1}, each one query over its own context. */
    int absorbedRows() {
        return absorbedRows;
    }

    int logitRows() {
        return logitRows;
    }

    int contextSlots() {
        return contextSlots;
    }

    int[] tokens() {
        return tokens;
    }

    int[] positions() {
        return positions;
    }

    int[] slots() {
        return slots;
    }

    int[] logitRowIndex() {
        return logitRowIndex;
    }

    int[] context() {
        return context;
    }

    /** {@code slices + 1} context offsets by placement (a naive slice's context: the slots of positions 0 .. its end). */
    int[] contextStart() {
        return contextStart;
    }

    /** {@code absorbedRows + 1} context offsets by absorbed row (row t's: the slots of positions 0 .. its own). */
    int[] absorbedStarts() {
        return absorbedStarts;
    }

    int firstRow(int placement) {
        return firstRow[placement];
    }

    int rowCount(int placement) {
        return rowCount[placement];
    }

    int startPos(int placement) {
        return startPos[placement];
    }

    /** The placement of the batch's slice {@code i}. */
    int placementOf(int i) {
        return placementOf[i];
    }

    int mediaRows() {
        return media;
    }

    int mediaRow(int m) {
        return mediaRow[m];
    }

    float[] mediaValues(int m) {
        return mediaValues[m];
    }
}
