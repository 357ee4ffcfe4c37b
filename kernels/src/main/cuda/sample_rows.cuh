// The backend's whole sampler on the device, one block of 1024 threads per sampling row, with the CPU backend's
// semantics (engine Sampler/BatchSampler/Logprobs): constraint bitmask (disallowed -> -inf); repetition, frequency and
// presence penalties from the row's device-kept token counts, in double as the host does; then greedy argmax (lowest
// id on ties), or weights e_i = exp((w_i - max) * (1/T)) in double, min_p on the weights, top_k and top_p as a prefix
// of the tokens ranked by (float(e_i), lower id first) — the exact rank the host sorts by, found by bisection over the
// 64-bit rank instead of a sort — and one inverse-CDF draw in id order with the row's uniform draw. Then the counts
// take the token, and the requested logprobs of the masked (pre-penalty) distribution are written. Only sums differ
// in order from the host (a parallel reduction), so a draw or a top_p cut within rounding of a boundary may differ.
// NaN counts as -inf (the host throws on a NaN logit; a kernel cannot).
#pragma once
#include "common.cuh"
#include "sampling.cuh"

#define PG_SEEN 0x80000000u
#define PG_ROW_PARAMS 12
// result codes in place of a token id (the host raises the CPU backend's errors for them)
#define PG_NO_ALLOWED_TOKEN -2
#define PG_ALL_NEG_INF -3

__device__ __forceinline__ bool pg_allowed(const unsigned long long* mask, int i) {
    return mask == nullptr || ((mask[i >> 6] >> (i & 63)) & 1ull);
}

// The masked logit (what logprobs are of); NaN as -inf.
__device__ __forceinline__ float pg_masked(const float* lg, const unsigned long long* mask, int i) {
    return pg_allowed(mask, i) ? pg_logit(lg[i]) : -INFINITY;
}

// The host's Sampler.applyPenalties on one token, with its double arithmetic and float rounding, no contraction.
__device__ __forceinline__ float pg_penalised(float x, const unsigned* cnt, int i, double rep, double freq, double pres) {
    if (cnt == nullptr) return x;
    unsigned c = cnt[i];
    if (rep != 1.0 && (c & PG_SEEN)) x = (float) (x > 0.f ? __ddiv_rn((double) x, rep) : __dmul_rn((double) x, rep));
    unsigned n = c & ~PG_SEEN;
    if ((freq != 0.0 || pres != 0.0) && n > 0) x = (float) __dsub_rn(__dsub_rn((double) x, __dmul_rn(freq, (double) n)), pres);
    return x;
}

__device__ __forceinline__ unsigned long long pg_rank(double e, int i) {
    return ((unsigned long long) __float_as_uint((float) e) << 32) | (unsigned long long) (~(unsigned) i);
}

__device__ double pg_block_sum_d(double v, double* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(PG_FULL, v, o);
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    double t = lane < warps ? scratch[lane] : 0.0;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) t += __shfl_xor_sync(PG_FULL, t, o);
    return t;
}

__device__ int pg_block_max_i(int v, int* scratch) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(PG_FULL, v, o));
    __syncthreads();
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    int t = lane < warps ? scratch[lane] : INT_MIN;
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) t = max(t, __shfl_xor_sync(PG_FULL, t, o));
    return t;
}

// kept: weight at least min_p and rank at least cut (cut 0 keeps every rank)
__device__ __forceinline__ bool pg_kept(double e, int i, double min_w, unsigned long long cut) {
    return e >= min_w && pg_rank(e, i) >= cut;
}

// Count (as a double, exact below 2^53) or weight of the kept tokens with rank >= c.
__device__ double pg_prefix(const double* w, int vocab, double min_w, unsigned long long cut, unsigned long long c,
                            bool mass, double* scratch) {
    double s = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
        double e = w[i];
        if (pg_kept(e, i, min_w, cut) && pg_rank(e, i) >= c) s += mass ? e : 1.0;
    }
    return pg_block_sum_d(s, scratch);
}

// The largest rank c whose prefix (kept tokens with rank >= c) holds at least `target` tokens or weight: the rank of
// the token that completes the prefix, as the host's prefixEnd returns it; 0 (keep all) when no prefix reaches it.
__device__ unsigned long long pg_prefix_end(const double* w, int vocab, double min_w, unsigned long long cut,
                                            double target, bool mass, double* scratch) {
    if (pg_prefix(w, vocab, min_w, cut, 0ull, mass, scratch) < target) return 0ull;
    unsigned long long c = 0ull;
    for (int b = 63; b >= 0; b--) {
        unsigned long long trial = c | (1ull << b);
        if (pg_prefix(w, vocab, min_w, cut, trial, mass, scratch) >= target) c = trial;
    }
    return c;
}

// params: PG_ROW_PARAMS doubles per row: logits row, counts slot (-1 none), mask row (-1 none), top logprobs (-1 none),
// top_k, temperature, top_p, min_p, presence, frequency, repetition, draw.
// out: ids[rows], then logprobs[rows] (float bits), then per row MAX_TOP alternative ids and MAX_TOP logprobs.
// weights: rows x vocab doubles of scratch (written and read only by this row's block).
extern "C" __global__ void __launch_bounds__(1024) pg_sample_rows(
        const float* __restrict__ logits, int stride, int vocab, int rows, const double* __restrict__ params,
        const unsigned long long* __restrict__ masks, int mask_words, unsigned* __restrict__ counts,
        double* __restrict__ weights, int max_top, int* __restrict__ out) {
    __shared__ double dscratch[32];
    __shared__ float sv[32];
    __shared__ int si[32];
    __shared__ double chunk_start[1024];
    __shared__ int found;
    const int row = blockIdx.x;
    const double* p = params + (size_t) row * PG_ROW_PARAMS;
    const float* lg = logits + (size_t) p[0] * stride;
    const int slot = (int) p[1], mask_row = (int) p[2], top = (int) p[3], top_k = (int) p[4];
    const double temperature = p[5], top_p = p[6], min_p = p[7], pres = p[8], freq = p[9], rep = p[10], draw = p[11];
    const unsigned long long* mask = mask_row >= 0 ? masks + (size_t) mask_row * mask_words : nullptr;
    unsigned* cnt = slot >= 0 ? counts + (size_t) slot * vocab : nullptr;
    double* w = weights + (size_t) row * vocab;
    float* out_lp = (float*) (out + rows);
    int* out_top = out + 2 * rows + row * 2 * max_top;

    // 1. the masked maximum: a constraint that allows no finite token is the host's error
    float bv = -INFINITY;
    int bi = 0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) bv = fmaxf(bv, pg_masked(lg, mask, i));
    float masked_max = pg_block_max(bv, sv);
    int token;
    if (mask != nullptr && masked_max == -INFINITY) {
        token = PG_NO_ALLOWED_TOKEN;
    } else {
        // 2. argmax of the penalised logits
        bv = -INFINITY;
        bi = 0;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x)
            pg_argmax_merge(bv, bi, pg_logit(pg_penalised(pg_masked(lg, mask, i), cnt, i, rep, freq, pres)), i);
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
        for (int k = 1; k < (int) (blockDim.x >> 5); k++) pg_argmax_merge(bv, bi, sv[k], si[k]);
        if (temperature <= 0.0) {
            token = bi;
        } else if (bv == -INFINITY) {
            token = PG_ALL_NEG_INF;
        } else {
            // 3. weights relative to the most likely token, kept in this row's scratch
            const float mx = bv;
            const double inv_t = 1.0 / temperature;
            for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
                float x = pg_logit(pg_penalised(pg_masked(lg, mask, i), cnt, i, rep, freq, pres));
                w[i] = exp(__dmul_rn((double) __fsub_rn(x, mx), inv_t));
            }
            __syncthreads();
            const double min_w = min_p > 0.0 ? min_p : 0.0;
            unsigned long long cut = 0ull;
            if (top_k > 0 && top_k < vocab) cut = pg_prefix_end(w, vocab, min_w, cut, (double) top_k, false, dscratch);
            if (top_p < 1.0) {
                double target = top_p * pg_prefix(w, vocab, min_w, cut, 0ull, true, dscratch);
                unsigned long long c = pg_prefix_end(w, vocab, min_w, cut, target, true, dscratch);
                cut = c > cut ? c : cut;
            }
            // 4. one draw in id order over the kept weights: contiguous chunks, a scan over the chunk sums
            int chunk = (vocab + blockDim.x - 1) / blockDim.x;
            int c0 = min(vocab, (int) threadIdx.x * chunk), c1 = min(vocab, c0 + chunk);
            double cs = 0.0;
            int last = -1;
            for (int i = c0; i < c1; i++) {
                double e = w[i];
                if (pg_kept(e, i, min_w, cut)) {
                    cs = __dadd_rn(cs, e);
                    if (e > 0.0) last = i;
                }
            }
            chunk_start[threadIdx.x] = cs;
            __syncthreads();
            if (threadIdx.x == 0) {
                double run = 0.0;
                for (int k = 0; k < (int) blockDim.x; k++) { double c = chunk_start[k]; chunk_start[k] = run; run = __dadd_rn(run, c); }
                dscratch[0] = run;
                found = -1;
            }
            __syncthreads();
            double u = __dmul_rn(draw, dscratch[0]);
            double start = chunk_start[threadIdx.x];
            if (start <= u && u < __dadd_rn(start, cs)) {
                // partial sums in the order cs was summed: start + (the whole chunk) is exactly the next start
                double part = 0.0;
                for (int i = c0; i < c1; i++) {
                    double e = w[i];
                    if (pg_kept(e, i, min_w, cut)) {
                        part = __dadd_rn(part, e);
                        if (u < __dadd_rn(start, part)) { found = i; break; }
                    }
                }
            }
            __syncthreads();
            int f = found;
            // rounding left the draw past the kept mass: the last kept token that has weight, as the host falls back
            token = f >= 0 ? f : max(0, pg_block_max_i(last, si));
        }
    }
    __syncthreads();
    if (threadIdx.x == 0) {
        out[row] = token;
        if (cnt != nullptr && token >= 0) cnt[token] = ((cnt[token] & ~PG_SEEN) + 1u) | PG_SEEN;
    }
    if (top < 0 || token < 0) return;

    // 5. logprobs of the masked distribution: logZ = max + log(sum exp(x - max)) in double, as Logprobs.compute
    double z = 0.0;
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) z += exp((double) __fsub_rn(pg_masked(lg, mask, i), masked_max));
    z = pg_block_sum_d(z, dscratch);
    const double log_z = (double) masked_max + log(z);
    if (threadIdx.x == 0) out_lp[row] = (float) ((double) pg_masked(lg, mask, token) - log_z);
    // the best `top` alternatives, most likely first, lower id first on ties, never a -inf one: one pass each, each
    // the argmax among the tokens ranked after the previous pick
    if (threadIdx.x == 0) for (int j = 0; j < max_top; j++) out_top[j] = -1;
    float prev_v = INFINITY;
    int prev_i = -1;
    for (int j = 0; j < top && j < max_top; j++) {
        bv = -INFINITY;
        bi = INT_MAX;
        for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
            float x = pg_masked(lg, mask, i);
            bool after = x < prev_v || (x == prev_v && i > prev_i);
            if (after && x != -INFINITY && (x > bv || (x == bv && i < bi))) { bv = x; bi = i; }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(PG_FULL, bv, o);
            int oi = __shfl_xor_sync(PG_FULL, bi, o);
            if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
        }
        __syncthreads();
        if ((threadIdx.x & 31) == 0) { sv[threadIdx.x >> 5] = bv; si[threadIdx.x >> 5] = bi; }
        __syncthreads();
        bv = sv[0];
        bi = si[0];
        for (int k = 1; k < (int) (blockDim.x >> 5); k++) {
            if (sv[k] > bv || (sv[k] == bv && si[k] < bi)) { bv = sv[k]; bi = si[k]; }
        }
        if (bv == -INFINITY) break;  // the same in every thread
        if (threadIdx.x == 0) {
            out_top[j] = bi;
            ((float*) out_top)[max_top + j] = (float) ((double) bv - log_z);
        }
        prev_v = bv;
        prev_i = bi;
    }
}

// Counts slot for a new sequence: every word zero, then the prompt's tokens seen. grid-stride over n ids.
extern "C" __global__ void pg_counts_seen(unsigned* __restrict__ cnt, const int* __restrict__ ids, int n, int vocab) {
    for (int k = blockIdx.x * blockDim.x + threadIdx.x; k < n; k += gridDim.x * blockDim.x) {
        int t = ids[k];
        if (t >= 0 && t < vocab) atomicOr(cnt + t, PG_SEEN);
    }
}

// n 32-bit words from src to dst (a forked choice's counts), grid-stride.
extern "C" __global__ void pg_copy_words(const unsigned* __restrict__ src, unsigned* __restrict__ dst, long long n) {
    for (long long k = blockIdx.x * (long long) blockDim.x + threadIdx.x; k < n; k += (long long) gridDim.x * blockDim.x)
        dst[k] = src[k];
}
