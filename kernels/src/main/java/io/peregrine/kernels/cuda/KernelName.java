package io.peregrine.kernels.cuda;

/**
 * Every {@code extern "C"} kernel in {@code src/main/cuda/peregrine.cu}, by the symbol the cubin exports. The
 * module loader resolves all of them at start, so a renamed kernel fails loudly at load, not mid-request.
 */
public enum KernelName {
    RMS_NORM,
    ROPE_INTERLEAVED,
    SILU_MUL,
    EMBEDDING_GATHER,
    AXPY,
    BF16_GEMV,
    BF16_GEMV_T,
    BF16_GEMM_MMA,
    BF16_GEMM_WGMMA,
    INT4_GROUPED_GEMM_MMA,
    INT4_GROUPED_GEMM_WGMMA,
    MOE_ROUTER,
    MOE_PERMUTE,
    INT4_GROUPED_GEMV,
    MOE_COMBINE,
    MLA_CACHE_WRITE,
    MLA_DECODE_PARTIAL,
    MLA_DECODE_PARTIAL_MMA,
    MLA_DECODE_COMBINE,
    MLA_PREFILL_ATTENTION,
    MLA_ABSORBED_F32,
    ARGMAX,
    SAMPLE_TOP_P,
    FILL_RANDOM_U32,
    FILL_RANDOM_BF16,
    COPY_U4,
    GATHER_ROWS,
    SCATTER_ROWS,
    SCATTER_ADD_SCALED,
    SILU_MUL_ROWS,
    ADD_ROWS,
    SAMPLE_ROWS,
    COUNTS_SEEN,
    COPY_WORDS,
    // the vision tower (vision.cuh)
    LAYER_NORM,
    ADD_BIAS_ROWS,
    GELU_ROWS,
    ROTATE_PAIRS,
    ATTENTION_SEGMENTS_D16,
    ATTENTION_SEGMENTS_D72,
    // the MoE block (int4_moe.cuh)
    EXPERT_TABLE_SET,
    MOE_INT4_GEMV,
    MOE_BF16_GEMV,
    MOE_COMBINE_HELD;

    /** The C symbol, e.g. {@code pg_int4_grouped_gemv}. */
    public String symbol() {
        return "pg_" + name().toLowerCase(java.util.Locale.ROOT);
    }
}
