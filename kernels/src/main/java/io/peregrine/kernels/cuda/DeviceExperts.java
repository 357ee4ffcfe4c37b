package io.peregrine.kernels.cuda;

import io.peregrine.engine.backend.ExpertStack;

/**
 * CUDA's {@link ExpertStack}: the experts' weights stay in the buffers they were uploaded to, and {@code table} (device
 * memory) holds their addresses — INT4: gate words, gate scales, up words, up scales, down words, down scales, each a
 * row of {@code experts} addresses; BF16: gate, up, down — which {@code pg_moe_int4_gemv} / {@code pg_moe_bf16_gemv}
 * index by expert. {@code table} is null for a rank that holds no expert of the layer.
 */
record DeviceExperts(int firstExpert, int experts, int hidden, int inter, boolean int4, DeviceBuffer table)
        implements ExpertStack {}
