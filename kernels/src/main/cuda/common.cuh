// Shared helpers for every Peregrine kernel. Activations are fp32, weights BF16 or INT4 group-32 (spec §2.2).
#pragma once
#include <cuda_bf16.h>
#include <stdint.h>

#define PG_WARP 32
#define PG_FULL 0xffffffffu

__device__ __forceinline__ float pg_bf16(uint16_t bits) {
    return __uint_as_float(((uint32_t) bits) << 16);
}

// Two bf16 packed in one 32-bit word, low half first (memory order).
__device__ __forceinline__ float pg_bf16_lo(uint32_t w) { return __uint_as_float(w << 16); }
__device__ __forceinline__ float pg_bf16_hi(uint32_t w) { return __uint_as_float(w & 0xffff0000u); }

__device__ __forceinline__ float pg_warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(PG_FULL, v, o);
    return v;
}

__device__ __forceinline__ float pg_warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(PG_FULL, v, o));
    return v;
}

// Block-wide sum for blockDim.x a multiple of 32 (<= 1024). 'scratch' holds 32 floats. Every thread gets the total.
__device__ __forceinline__ float pg_block_sum(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = pg_warp_sum(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : 0.f;
    return pg_warp_sum(t);
}

__device__ __forceinline__ float pg_block_max(float v, float* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    v = pg_warp_max(v);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float t = lane < warps ? scratch[lane] : -INFINITY;
    return pg_warp_max(t);
}

// Sum of the 8 dequantised-and-multiplied nibbles of one packed word against 8 activations.
// The +8 offset is applied per nibble (exact in fp32 for nibble values).
__device__ __forceinline__ float pg_int4_dot8(uint32_t w, float4 xa, float4 xb) {
    float s = 0.f;
    s = fmaf((float) ((int) ((w >> 0) & 0xF) - 8), xa.x, s);
    s = fmaf((float) ((int) ((w >> 4) & 0xF) - 8), xa.y, s);
    s = fmaf((float) ((int) ((w >> 8) & 0xF) - 8), xa.z, s);
    s = fmaf((float) ((int) ((w >> 12) & 0xF) - 8), xa.w, s);
    s = fmaf((float) ((int) ((w >> 16) & 0xF) - 8), xb.x, s);
    s = fmaf((float) ((int) ((w >> 20) & 0xF) - 8), xb.y, s);
    s = fmaf((float) ((int) ((w >> 24) & 0xF) - 8), xb.z, s);
    s = fmaf((float) ((int) ((w >> 28) & 0xF) - 8), xb.w, s);
    return s;
}
