package io.peregrine.engine.model;

import io.peregrine.engine.kv.LatentCache;
import java.util.Arrays;
import java.util.List;

/**
 * A step's inputs flattened once from the scheduled slices, on the host (nano-vllm's {@code prepare_prefill} /
 * {@code prepare_decode}): one row per new token, token ids, positions, the cache slot each new latent goes to, the
 * cache slots of every slice's context, the rows that need logits and the media rows that replace embeddings. The
 * model uploads them once per step ({@link Workspace#bind}).
 *
 * <p>Rows are ordered decode slices first (one row each), then the multi-token slices, each slice's rows
 * contiguous; placement {@code p} is the {@code p}-th slice in that order. Logits rows keep the batch's order. The
 * arrays are reused from step to step (grown, never shrunk), so the engine thread allocates nothing here once warm.
 */
final class StepInputs {
    private int rows;
    private int slices;
    private int decodes;
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
    private int[] context = new int[64];
    /** By batch index: the slice's placement. */
    private int[] placementOf = new int[16];
    private int[] mediaRow = new int[4];
    private float[][] mediaValues = new float[4][];

    /** Rebuilds the inputs for {@code batch} over {@code cache}, checking block tables, ids and embedding rows. */
    StepInputs build(List<SequenceSlice> batch, LatentCache cache, int vocab, int hidden) {
        Arrays.fill(mediaValues, 0, media, null);
        slices = batch.size();
        rows = 0;
        decodes = 0;
        logitRows = 0;
        contextSlots = 0;
        media = 0;
        int total = 0;
        int contexts = 0;
        for (int i = 0; i < slices; i++) {
            SequenceSlice s = batch.get(i);
            total += s.tokens().length;
            contexts += s.endPos();
            if (s.tokens().length == 1) {
                decodes++;
            }
            checkBlocks(i, s, cache);
        }
        ensure(total, contexts);
        // decodes first, then the rest, both in batch order
        int placed = 0;
        for (int pass = 0; pass < 2; pass++) {
            for (int i = 0; i < slices; i++) {
                SequenceSlice s = batch.get(i);
                if ((s.tokens().length == 1) == (pass == 0)) {
                    place(placed++, i, s, cache, vocab, hidden);
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

    private void place(int p, int i, SequenceSlice s, LatentCache cache, int vocab, int hidden) {
        sliceOf[p] = i;
        placementOf[i] = p;
        firstRow[p] = rows;
        rowCount[p] = s.tokens().length;
        startPos[p] = s.startPos();
        contextStart[p] = contextSlots;
        for (int pos = 0; pos < s.endPos(); pos++) {
            context[contextSlots++] = cache.slot(s.blockTable(), pos);
        }
        contextStart[p + 1] = contextSlots;
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

    private void ensure(int total, int contexts) {
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

    /** Single-token slices: placements and rows {@code 0 .. decodes-1}. */
    int decodes() {
        return decodes;
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

    /** {@code slices + 1} context offsets by placement. */
    int[] contextStart() {
        return contextStart;
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
