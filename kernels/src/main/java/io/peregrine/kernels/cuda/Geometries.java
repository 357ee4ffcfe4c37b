package io.peregrine.kernels.cuda;

import static io.peregrine.kernels.cuda.LaunchGeometry.ceilDiv;

/**
 * The launch shape of each kernel, from the problem size. The constants mirror the {@code #define}s of the CUDA
 * sources; they change together.
 */
public final class Geometries {
    /** Weight rows per warp of the decode GEMVs (PG_GEMV_ROWS, PG_INT4_ROWS). */
    public static final int GEMV_ROWS_PER_WARP = 4;
    /** Rows per 256-thread block of the decode GEMVs. */
    public static final int GEMV_ROWS_PER_BLOCK = 8 * GEMV_ROWS_PER_WARP;
    /** mma_gemm.cuh: PG_BM = PG_BN. */
    public static final int MMA_TILE = 64;
    /** mma_gemm.cuh: PG_BK, one INT4 group. */
    public static final int MMA_K_STEP = 32;
    /** mla.cuh: PG_TILE, PG_HEADS_PER_BLOCK, PG_KV_RANK, PG_ROPE. */
    public static final int MLA_TILE = 16;
    public static final int MLA_HEADS_PER_BLOCK = 8;
    /** mla_mma.cuh: PG_MH heads (one m16 tile) per 128-thread block; PG_MT = MLA_TILE slots per step. */
    public static final int MLA_MMA_HEADS_PER_BLOCK = 16;
    public static final int MLA_KV_RANK = 512;
    public static final int MLA_ROPE = 64;

    private Geometries() {}

    public static LaunchGeometry bf16Gemv(int rows) {
        return LaunchGeometry.of(ceilDiv(rows, GEMV_ROWS_PER_BLOCK), 256);
    }

    public static LaunchGeometry bf16GemvTransposed(int cols) {
        return LaunchGeometry.of(ceilDiv(cols / 2, 256), 256);
    }

    public static LaunchGeometry gemmMma(int rows, int tokens) {
        return new LaunchGeometry(ceilDiv(rows, MMA_TILE), ceilDiv(tokens, MMA_TILE), 1, 128, 0);
    }

    /**
     * The grouped decode GEMV is sized for the worst case — every one of {@code tokens · k} assignments on its own
     * expert, capped at the expert count — so the same launch serves any routing and can live in a CUDA graph.
     */
    public static LaunchGeometry int4GroupedGemv(int rows, int tokens, int k, int experts) {
        return new LaunchGeometry(ceilDiv(rows, GEMV_ROWS_PER_BLOCK), Math.min(experts, tokens * k), 1, 256, 0);
    }

    public static LaunchGeometry int4GroupedGemm(int rows, int tiles) {
        return new LaunchGeometry(ceilDiv(rows, MMA_TILE), tiles, 1, 128, 0);
    }

    public static LaunchGeometry router(int tokens, int experts) {
        if (experts > 4096) {
            throw new IllegalArgumentException(experts + " experts: the router keeps scores in shared memory, at most 4096");
        }
        return new LaunchGeometry(tokens, 1, 1, 256, 2 * experts * Float.BYTES);
    }

    public static LaunchGeometry permute(int experts) {
        return new LaunchGeometry(1, 1, 1, 1024, 2 * experts * Integer.BYTES);
    }

    public static LaunchGeometry perRow(int rows, int block) {
        return LaunchGeometry.of(rows, block);
    }

    public static LaunchGeometry elementwise(long n) {
        return LaunchGeometry.of(Math.max(1, Math.min(ceilDiv(n, 256), 132 * 16)), 256);
    }

    public static LaunchGeometry mlaPrefill(int tokens, int heads) {
        return new LaunchGeometry(tokens, heads, 1, 128, 0);
    }

    /** Threads per block of {@code pg_mla_absorbed_f32}; also the positions scored per online-softmax step. */
    public static final int ABSORBED_F32_THREADS = 128;

    /** One block per head; the query, the accumulator and one chunk's probabilities in dynamic shared memory. */
    public static LaunchGeometry mlaAbsorbedF32(int heads, int kvRank, int rope) {
        long floats = 2L * kvRank + rope + ABSORBED_F32_THREADS;
        // 128 B of static shared memory (the reduction scratch) count against the same 48 KB.
        if (floats * Float.BYTES + 128 > LaunchGeometry.DEFAULT_SHARED_LIMIT) {
            throw new IllegalArgumentException("absorbed attention: kv rank " + kvRank + " + rope " + rope
                    + " needs " + floats * Float.BYTES + " B of shared memory, over " + LaunchGeometry.DEFAULT_SHARED_LIMIT);
        }
        return new LaunchGeometry(heads, 1, 1, ABSORBED_F32_THREADS, (int) (floats * Float.BYTES));
    }

    /**
     * Splits the sequence so that about two blocks per multiprocessor are in flight even for a batch of one;
     * each split a whole number of 16-slot tiles. {@code capacity} is the longest sequence the launch must
     * serve (for a captured graph: the context limit, not the current length).
     */
    public static MlaDecodePlan mlaDecode(int heads, int batch, int capacity, int multiprocessors) {
        return mlaPlan(heads, batch, capacity, multiprocessors, false);
    }

    /** The same split rule for the tensor-core kernel: 16 heads per block of 128 threads. */
    public static MlaDecodePlan mlaDecodeMma(int heads, int batch, int capacity, int multiprocessors) {
        return mlaPlan(heads, batch, capacity, multiprocessors, true);
    }

    private static MlaDecodePlan mlaPlan(int heads, int batch, int capacity, int multiprocessors, boolean tensorCores) {
        int headsPerBlock = tensorCores ? MLA_MMA_HEADS_PER_BLOCK : MLA_HEADS_PER_BLOCK;
        int threads = tensorCores ? 128 : 32 * MLA_HEADS_PER_BLOCK;
        if (heads < 1 || batch < 1 || capacity < 1 || multiprocessors < 1) {
            throw new IllegalArgumentException("mla decode: heads " + heads + ", batch " + batch + ", capacity "
                    + capacity + ", SMs " + multiprocessors);
        }
        int headBlocks = ceilDiv(heads, headsPerBlock);
        int maxSplits = ceilDiv(capacity, MLA_TILE);
        int want = ceilDiv(2L * multiprocessors, (long) headBlocks * batch);
        int splits = Math.max(1, Math.min(Math.min(want, maxSplits), LaunchGeometry.MAX_GRID_YZ));
        int splitLen = ceilDiv(ceilDiv(capacity, splits), MLA_TILE) * MLA_TILE;
        splits = ceilDiv(capacity, splitLen);
        return new MlaDecodePlan(splits, splitLen,
                new LaunchGeometry(headBlocks, splits, batch, threads, 0),
                new LaunchGeometry(heads, batch, 1, 128, 0), tensorCores);
    }

    /** Split-K plan of the absorbed MLA decode: partials per (sequence, head, split), then a combine. */
    public record MlaDecodePlan(int splits, int splitLen, LaunchGeometry partial, LaunchGeometry combine,
                                boolean tensorCores) {
        /** Heads one partial block covers. */
        public int headsPerBlock() {
            return tensorCores ? MLA_MMA_HEADS_PER_BLOCK : MLA_HEADS_PER_BLOCK;
        }

        public long partialFloats(int batch, int heads) {
            return (long) batch * heads * splits * MLA_KV_RANK;
        }

        public long maxNormFloats(int batch, int heads) {
            return 2L * batch * heads * splits;
        }
    }

    // ---- the vision tower (vision.cuh) ------------------------------------------------------------------------

    /** vision.cuh: PG_SEG_BQ, queries (threads) per block of the segment attention. */
    public static final int SEGMENT_QUERIES = 64;

    /** Blocks (query tile, head, segment): tiles past a shorter segment's end exit at once. */
    public static LaunchGeometry attentionSegments(int longest, int heads, int segments) {
        return new LaunchGeometry(Math.max(1, ceilDiv(longest, SEGMENT_QUERIES)), heads, segments, SEGMENT_QUERIES, 0);
    }
}
