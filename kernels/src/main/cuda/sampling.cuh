// Token choice on the device: greedy (argmax, lowest index on ties) and top-p over temperature-scaled logits.
// A NaN logit counts as -inf everywhere: it never wins against a number, never gets probability, and a row with no
// number at all still yields an index inside [0, vocab) (the lowest), never a sentinel another kernel would read.
#pragma once
#include "common.cuh"

__device__ __forceinline__ float pg_logit(float v) { return isnan(v) ? -INFINITY : v; }

__device__ __forceinline__ void pg_argmax_merge(float& v, int& i, float ov, int oi) {
    if (ov > v || (ov == v && oi < i)) { v = ov; i = oi; }
}

// Block-wide argmax of x[0..n) (n >= 1), NaN as -inf; every thread gets the winner and *best_v its value (-inf for a
// row without numbers). blockDim.x a multiple of 32. Every candidate starts at index 0 with -inf: index 0 is the
// answer exactly when nothing beats -inf, and otherwise loses to any larger value, so no path yields an invalid id.
__device__ int pg_block_argmax(const float* __restrict__ x, int n, float* sv, int* si, float* best_v) {
    float bv = -INFINITY;
    int bi = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) pg_argmax_merge(bv, bi, pg_logit(x[i]), i);
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
    *best_v = bv;
    return bi;
}

// grid = rows; out[row] = argmax of logits[row][0..vocab).
extern "C" __global__ void pg_argmax(const float* __restrict__ logits, int vocab, int* __restrict__ out) {
    __shared__ float sv[32];
    __shared__ int si[32];
    float bv;
    int best = pg_block_argmax(logits + (size_t) blockIdx.x * vocab, vocab, sv, si, &bv);
    if (threadIdx.x == 0) out[blockIdx.x] = best;
}

// p_i of one logit. Every pass computes it with the same explicitly rounded operations (none may be contracted into
// an fma in one loop and not in another), so the bisection, the chunk sums and the final scan see the same p_i.
__device__ __forceinline__ float pg_prob(float logit, float inv_t, float mx, float inv_z) {
    return __fmul_rn(__expf(__fsub_rn(__fmul_rn(pg_logit(logit), inv_t), mx)), inv_z);
}

// Top-p (nucleus) sampling, one block of 1024 threads per row, with the row's uniform draw u[row] in [0,1).
// p_i = softmax(logits/temperature), NaN logits as -inf (p_i = 0). The nucleus is {i : p_i >= tau} for the largest
// tau whose kept mass reaches top_p — the same set as sorting and cutting the cumulative sum — found by bisection on
// tau instead of a sort. The token is the first index whose running kept mass (in index order) exceeds u * kept mass.
// A row whose scaled maximum is not finite (no number at all, or an infinity) has no softmax: its token is the argmax.
extern "C" __global__ void __launch_bounds__(1024) pg_sample_top_p(const float* __restrict__ logits, int vocab,
                                                                  float temperature, float top_p,
                                                                  const float* __restrict__ u, int* __restrict__ out) {
    __shared__ float scratch[32];
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ float chunk_start[1024];
    const float* lg = logits + (size_t) blockIdx.x * vocab;
    float best_v;
    int best = pg_block_argmax(lg, vocab, sv, si, &best_v);
    float inv_t = 1.f / temperature;
    float mx = __fmul_rn(best_v, inv_t);
    if (!isfinite(mx)) {  // the same value in every thread: the whole block leaves together
        if (threadIdx.x == 0) out[blockIdx.x] = best;
        return;
    }
    float z = 0.f;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) z += pg_prob(lg[i], inv_t, mx, 1.f);
    z = pg_block_sum(z, scratch);
    float inv_z = 1.f / z;
    float lo = 0.f, hi = inv_z * 1.0001f + 1e-30f;  // p_max = 1/z; mass above hi is 0
    if (top_p < 1.f) {
        for (int it = 0; it < 40; it++) {
            float mid = 0.5f * (lo + hi);
            if (mid <= lo || mid >= hi) break;
            float mass = 0.f;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float p = pg_prob(lg[i], inv_t, mx, inv_z);
                if (p >= mid) mass += p;
            }
            mass = pg_block_sum(mass, scratch);
            if (mass >= top_p) lo = mid; else hi = mid;
        }
    }
    // Contiguous chunks per thread, so a running sum in index order is a scan over chunk sums. The kept mass is the
    // chunk sums added in thread order, and thread t's share of it is [start_t, start_t + cs_t), where start_t + cs_t
    // is the very addition that produced start_{t+1}: the shares tile [0, kept) with no gap and no overlap. The scan
    // inside a chunk adds in the order cs was summed and compares start_t + (partial sum), which reaches start_t + cs_t
    // exactly at the chunk's last kept token, so the thread owning the target always finds its token.
    int chunk = (vocab + blockDim.x - 1) / blockDim.x;
    int c0 = min(vocab, (int) threadIdx.x * chunk), c1 = min(vocab, c0 + chunk);
    float cs = 0.f;
    for (int i = c0; i < c1; i++) {
        float p = pg_prob(lg[i], inv_t, mx, inv_z);
        if (p >= lo) cs = __fadd_rn(cs, p);
    }
    chunk_start[threadIdx.x] = cs;
    __syncthreads();
    if (threadIdx.x == 0) {
        float run = 0.f;
        for (int i = 0; i < (int) blockDim.x; i++) { float c = chunk_start[i]; chunk_start[i] = run; run = __fadd_rn(run, c); }
        scratch[0] = run;
        si[0] = best;  // only a safety net now: the argmax is kept, so the kept mass is positive and some thread matches
    }
    __syncthreads();
    float kept = scratch[0];
    // u * kept may round up to kept itself (or u lie outside [0,1)): the last float below kept is in the last share
    float target = fmaxf(0.f, fminf(u[blockIdx.x] * kept, nextafterf(kept, 0.f)));
    float start = chunk_start[threadIdx.x];
    if (start <= target && target < __fadd_rn(start, cs)) {
        float part = 0.f;
        for (int i = c0; i < c1; i++) {
            float p = pg_prob(lg[i], inv_t, mx, inv_z);
            if (p >= lo) {
                part = __fadd_rn(part, p);
                if (target < __fadd_rn(start, part)) { si[0] = i; break; }
            }
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) out[blockIdx.x] = si[0];
}
