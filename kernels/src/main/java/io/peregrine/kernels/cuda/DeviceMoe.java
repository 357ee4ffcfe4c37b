package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.MoeScratch;

/**
 * {@link CudaBackend#moe}'s working memory for up to {@code capacity} tokens, all on the device: a dense copy of
 * strided router logits (the router kernel reads rows of exactly {@code experts}), the router's choices
 * ({@code topIdx} ints, {@code topW}), the permutation ({@code offsets} per layer-wide expert + 1, {@code permToken},
 * {@code srcPos}, {@code active}, {@code nActive}), the permuted rows' gate‖up ({@code [capacity·k, 2·inter]}) and
 * outputs, and the shared expert's buffers.
 */
record DeviceMoe(int capacity, int k, DeviceTensor logits, DeviceIndices topIdx, DeviceTensor topW, DeviceBuffer offsets,
                 DeviceBuffer permToken, DeviceBuffer srcPos, DeviceBuffer active, DeviceBuffer nActive,
                 DeviceTensor gateUp, DeviceTensor out, DeviceTensor sharedGate, DeviceTensor sharedUp,
                 DeviceTensor sharedOut) implements MoeScratch {

    @Override
    public DeviceIndices chosen(int tokens) {
        return topIdx.slice(0, tokens * k);
    }

    @Override
    public DeviceTensor weights(int tokens) {
        return topW.cols(0, tokens * k);
    }
}
