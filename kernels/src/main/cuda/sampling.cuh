// Token choice on the device: greedy (argmax, lowest index on ties) and top-p over temperature-scaled logits.
#pragma once
#include "common.cuh"

__device__ __forceinline__ void pg_argmax_merge(float& v, int& i, float ov, int oi) {
    if (ov > v || (ov == v && oi < i)) { v = ov; i = oi; }
}

// Block-wide argmax; every thread gets the winner. blockDim.x a multiple of 32.
__device__ int pg_block_argmax(const float* __restrict__ x, int n, float* sv, int* si) {
    float bv = -INFINITY;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x) pg_argmax_merge(bv, bi, x[i], i);
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        float ov = __shfl_xor_sync(PG_FULL, bv, o);
        int oi = __shfl_xor_sync(PG_FULL, bi, o);
        pg_argmax_merge(bv, bi, ov, oi);
    }
    __syncthreads();
    if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = bv; si[threadIdx.x >> 5] = bi; }
    __syncthreads();
    bv = sv[0];
    bi = si[0];
    for (int w = 1; w < (int) (blockDim.x >> 5); w++) pg_argmax_merge(bv, bi, sv[w], si[w]);
    return bi;
}

// grid = rows; out[row] = argmax of logits[row][0..vocab).
extern "C" __global__ void pg_argmax(const float* __restrict__ logits, int vocab, int* __restrict__ out) {
    __shared__ float sv[32];
    __shared__ int si[32];
    int best = pg_block_argmax(logits + (size_t) blockIdx.x * vocab, vocab, sv, si);
    if (threadIdx.x == 0) out[blockIdx.x] = best;
}

// Top-p (nucleus) sampling, one block of 1024 threads per row, with the row's uniform draw u[row] in [0,1).
// p_i = softmax(logits/temperature). The nucleus is {i : p_i >= tau} for the largest tau whose kept mass reaches
// top_p — the same set as sorting and cutting the cumulative sum — found by bisection on tau instead of a sort.
// The token is the first index whose running kept mass (in index order) exceeds u * kept mass.
extern "C" __global__ void __launch_bounds__(1024) pg_sample_top_p(const float* __restrict__ logits, int vocab,
                                                                  float temperature, float top_p,
                                                                  const float* __restrict__ u, int* __restrict__ out) {
    __shared__ float scratch[32];
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ float chunk_sum[1024];
    const float* lg = logits + (size_t) blockIdx.x * vocab;
    int best = pg_block_argmax(lg, vocab, sv, si);
    float inv_t = 1.f / temperature;
    float mx = lg[best] * inv_t;
    float z = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) z += __expf(lg[i] * inv_t - mx);
    z = pg_block_sum(z, scratch);
    float inv_z = 1.f / z;
    float lo = 0.f, hi = 1.f / z * 1.0001f + 1e-30f;  // p_max = 1/z; mass above hi is 0
    if (top_p < 1.f) {
        for (int it = 0; it < 40; it++) {
            float mid = 0.5f * (lo + hi);
            if (mid <= lo || mid >= hi) break;
            float mass = 0.f;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float p = __expf(lg[i] * inv_t - mx) * inv_z;
                if (p >= mid) mass += p;
            }
            mass = pg_block_sum(mass, scratch);
            if (mass >= top_p) lo = mid; else hi = mid;
        }
    }
    // contiguous chunks per thread, so a running sum in index order is a scan over chunk sums
    int chunk = (vocab + blockDim.x - 1) / blockDim.x;
    int c0 = threadIdx.x * chunk, c1 = min(vocab, c0 + chunk);
    float cs = 0.f;
    for (int i = c0; i < c1; i++) {
        float p = __expf(lg[i] * inv_t - mx) * inv_z;
        if (p >= lo) cs += p;
    }
    chunk_sum[threadIdx.x] = cs;
    __syncthreads();
    if (threadIdx.x == 0) {
        float run = 0.f;
        for (int i = 0; i < (int) blockDim.x; i++) { float c = chunk_sum[i]; chunk_sum[i] = run; run += c; }
        scratch[0] = run;
        si[0] = best;  // the argmax is always kept: the answer if rounding leaves the target past the end
    }
    __syncthreads();
    float target = u[blockIdx.x] * scratch[0];
    float run = chunk_sum[threadIdx.x];
    if (run <= target && target < run + cs) {
        for (int i = c0; i < c1; i++) {
            float p = __expf(lg[i] * inv_t - mx) * inv_z;
            if (p >= lo) {
                run += p;
                if (target < run) { si[0] = i; break; }
            }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = si[0];
}
