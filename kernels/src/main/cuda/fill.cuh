// Device-side random fills for the device check: multi-gigabyte weights drawn where they live instead of being
// generated and copied from the host. A counter-based hash, so a (seed, index) pair always gives the same value.
#pragma once
#include "common.cuh"

__device__ __forceinline__ uint32_t pg_hash(uint64_t seed, uint64_t i) {
    uint64_t z = seed + 0x9E3779B97F4A7C15ull * (i + 1);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (uint32_t) ((z ^ (z >> 31)) >> 16);
}

// words[i] = random 32 bits (eight random INT4 nibbles).
extern "C" __global__ void pg_fill_random_u32(uint32_t* __restrict__ words, long long n, long long seed) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        words[i] = pg_hash((uint64_t) seed, (uint64_t) i) ^ (pg_hash((uint64_t) seed + 1, (uint64_t) i) << 16);
    }
}

// bf16 values uniform in [-scale, scale).
extern "C" __global__ void pg_fill_random_bf16(uint16_t* __restrict__ out, long long n, long long seed, float scale) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        float u = (float) (pg_hash((uint64_t) seed, (uint64_t) i) & 0xFFFFFF) * (1.f / 16777216.f);
        out[i] = __bfloat16_as_ushort(__float2bfloat16_rn((2.f * u - 1.f) * scale));
    }
}

// Device-to-device streaming copy with 16-byte accesses: the copy-bandwidth ceiling measured by our own code.
extern "C" __global__ void pg_copy_u4(const uint4* __restrict__ src, uint4* __restrict__ dst, long long n) {
    for (long long i = (long long) blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long) gridDim.x * blockDim.x) {
        dst[i] = src[i];
    }
}
