package io.peregrine.engine.config;

/** How a quantized Linear weight is stored in the checkpoint. */
public sealed interface WeightFormat {

    /**
     * compressed-tensors {@code pack-quantized}, symmetric INT4 with one bf16 scale per group of input columns:
     * {@code weight_packed} I32 {@code [out, in/8]}, {@code weight_scale} BF16 {@code [out, in/group]},
     * {@code weight_shape} I32 {@code [2]} (spec §2.2).
     */
    record PackedInt4(int groupSize) implements WeightFormat {}

    /**
     * DeepSeek-V3 / Kimi-K2 block FP8: {@code weight} F8_E4M3 {@code [out, in]} plus {@code weight_scale_inv} F32
     * {@code [ceil(out/blockRows), ceil(in/blockCols)]}.
     */
    record Fp8Block(int blockRows, int blockCols) implements WeightFormat {}
}
