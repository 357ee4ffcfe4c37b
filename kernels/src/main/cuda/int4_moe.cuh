// MoE on the device: router (sigmoid + bias top-k, normalisation, scaling), permutation of token slots by
// expert, the grouped INT4 group-32 GEMV for decode, and the weighted combine with the shared expert.
// Expert weights sit in one stacked buffer per layer (see Int4ExpertStack on the host): expert e's packed words
// at words + e * expert_words, its bf16 scales at scales + e * expert_scales, each row in the compressed-tensors
// order (spec §2.2), so one 16-byte load is exactly one group of 32 weights.
#pragma once
#include "common.cuh"

// One block per token. logits[t][E] (fp32), bias[E]. Chooses the top-k of sigmoid(logit)+bias (ties: lower index),
// weights are the unbiased sigmoid scores, normalised to sum 1 (+1e-20) when 'normalise' is set, times 'scaling'.
// This is DeepSeek-V3's noaux_tc routing with every group kept (topk_group = n_group; Kimi K2.5: 1 and 1); the host
// (DeviceOps.checkRouter) refuses group-limited configs.
// NaN: a NaN biased score ranks as -inf (below every number, ties to the lower index) and a NaN score weighs 0, so
// a row of NaN still yields k distinct experts in [0, E) — the k lowest — and finite weights.
extern "C" __global__ void pg_moe_router(const float* __restrict__ logits, const float* __restrict__ bias, int E,
                                         int k, float scaling, int normalise, int* __restrict__ topk_idx,
                                         float* __restrict__ topk_w) {
    extern __shared__ float sm[];
    float* biased = sm;          // E; a chosen expert is marked NaN, the one value no candidate takes
    float* score = sm + E;       // E
    __shared__ float red_v[32];
    __shared__ int red_i[32];
    __shared__ float chosen_w[64];
    __shared__ int chosen_i[64];
    const float* lg = logits + (size_t) blockIdx.x * E;
    for (int e = threadIdx.x; e < E; e += blockDim.x) {
        float s = 1.f / (1.f + expf(-lg[e]));
        float b = s + bias[e];
        score[e] = isnan(s) ? 0.f : s;
        biased[e] = isnan(b) ? -INFINITY : b;
    }
    __syncthreads();
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int j = 0; j < k; j++) {
        // (-inf, E) is "no candidate": every unchosen expert beats it, -inf ones by the lower index. At least
        // E - j >= 1 experts are unchosen (the host keeps k <= E), so the block's winner is always one of them.
        float bv = -INFINITY;
        int bi = E;
        for (int e = threadIdx.x; e < E; e += blockDim.x) {
            float v = biased[e];
            if (!isnan(v) && (v > bv || (v == bv && e < bi))) { bv = v; bi = e; }
        }
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            float ov = __shfl_xor_sync(PG_FULL, bv, o);
            int oi = __shfl_xor_sync(PG_FULL, bi, o);
            if (ov > bv || (ov == bv && oi < bi)) { bv = ov; bi = oi; }
        }
        if (lane == 0) { red_v[warp] = bv; red_i[warp] = bi; }
        __syncthreads();
        if (threadIdx.x == 0) {
            float v = red_v[0];
            int i = red_i[0];
            for (int w = 1; w < warps; w++) {
                if (red_v[w] > v || (red_v[w] == v && red_i[w] < i)) { v = red_v[w]; i = red_i[w]; }
            }
            bool ok = i < E;  // always, by the count above; checked so that no path writes outside the arrays
            chosen_i[j] = ok ? i : 0;
            chosen_w[j] = ok ? score[i] : 0.f;
            if (ok) biased[i] = __int_as_float(0x7fc00000);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        float sum = 0.f;
        for (int j = 0; j < k; j++) sum += chosen_w[j];
        float f = normalise ? scaling / (sum + 1e-20f) : scaling;
        for (int j = 0; j < k; j++) {
            topk_idx[blockIdx.x * k + j] = chosen_i[j];
            topk_w[blockIdx.x * k + j] = chosen_w[j] * f;
        }
    }
}

// Counting sort of the A = tokens*k assignments by expert, in one block (A is at most a few tens of thousands).
// Outputs: offsets[E+1] (rows of expert e are offsets[e] .. offsets[e+1]-1), perm_token[p] = token of permuted
// row p, src_pos[a] = permuted row of assignment a, active[0..n_active) = experts with rows, ascending.
// Order inside one expert follows atomics and is not fixed; no result depends on it. An id outside [0, E) (never
// from pg_moe_router; possible from a host-written list) gets no row: src_pos[a] = -1, which pg_moe_combine skips.
extern "C" __global__ void pg_moe_permute(const int* __restrict__ topk_idx, int A, int k, int E,
                                          int* __restrict__ offsets, int* __restrict__ perm_token,
                                          int* __restrict__ src_pos, int* __restrict__ active,
                                          int* __restrict__ n_active) {
    extern __shared__ int cnt[];  // 2*E: counts, then cursors
    int* cursor = cnt + E;
    for (int e = threadIdx.x; e < E; e += blockDim.x) cnt[e] = 0;
    __syncthreads();
    for (int a = threadIdx.x; a < A; a += blockDim.x) {
        int e = topk_idx[a];
        if ((unsigned) e < (unsigned) E) atomicAdd(&cnt[e], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {  // E is a few hundred: a serial scan costs less than a launch
        int run = 0, na = 0;
        for (int e = 0; e < E; e++) {
            offsets[e] = run;
            cursor[e] = run;
            if (cnt[e] > 0) active[na++] = e;
            run += cnt[e];
        }
        offsets[E] = run;
        *n_active = na;
    }
    __syncthreads();
    for (int a = threadIdx.x; a < A; a += blockDim.x) {
        int e = topk_idx[a];
        if ((unsigned) e >= (unsigned) E) { src_pos[a] = -1; continue; }
        int p = atomicAdd(&cursor[e], 1);
        perm_token[p] = a / k;
        src_pos[a] = p;
    }
}

#define PG_INT4_ROWS 4  // weight rows per warp: each activation group loaded once serves four rows

// The body of the grouped INT4 group-32 GEMV for one expert whose weight starts at words/scales: for each of its
// permuted rows p in [p0, p1), y[p][r] = sum_c W[r][c] * x[row(p)][c] with row(p) = row_token ? row_token[p] : p.
// One warp per 4 weight rows; per step each lane issues the four rows' 16-byte loads of one group (32 weights each)
// before using any, dequantises in registers, and applies each group's scale once. The 32 activations of the group
// (8 float4 per token) are loaded once for the four rows: a row at a time they would be 8 bytes of L1 traffic per
// byte of weight, more than L1 delivers at HBM speed. Requires cols % 32 == 0 and x_stride % 4 == 0.
__device__ __forceinline__ void pg_int4_expert_rows(const uint4* __restrict__ words,
                                                    const uint16_t* __restrict__ scales, int rows, int cols, int p0,
                                                    int p1, const float* __restrict__ x, int x_stride,
                                                    const int* __restrict__ row_token, float* __restrict__ y,
                                                    int y_stride) {
    int row0 = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * PG_INT4_ROWS;
    int lane = threadIdx.x & 31;
    if (row0 >= rows) return;
    int nr = min(PG_INT4_ROWS, rows - row0);
    int groups = cols >> 5;
    const uint4* wr = words + (size_t) row0 * groups;
    const uint16_t* sr = scales + (size_t) row0 * groups;
    for (int pc = p0; pc < p1; pc += 4) {
        float acc[PG_INT4_ROWS][4] = {};
        const float* xr[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int p = min(pc + j, p1 - 1);
            xr[j] = x + (size_t) (row_token ? row_token[p] : p) * x_stride;
        }
        for (int g = lane; g < groups; g += 32) {
            uint4 q[PG_INT4_ROWS];
            float sc[PG_INT4_ROWS];
#pragma unroll
            for (int r = 0; r < PG_INT4_ROWS; r++) {
                q[r] = r < nr ? wr[(size_t) r * groups + g] : make_uint4(0x88888888u, 0x88888888u, 0x88888888u, 0x88888888u);
                sc[r] = r < nr ? pg_bf16(sr[(size_t) r * groups + g]) : 0.f;
            }
#pragma unroll
            for (int j = 0; j < 4; j++) {
                if (pc + j < p1) {
                    const float4* xv = reinterpret_cast<const float4*>(xr[j]) + g * 8;
                    float4 x0 = xv[0], x1 = xv[1], x2 = xv[2], x3 = xv[3], x4 = xv[4], x5 = xv[5], x6 = xv[6], x7 = xv[7];
#pragma unroll
                    for (int r = 0; r < PG_INT4_ROWS; r++) {
                        float d = pg_int4_dot8(q[r].x, x0, x1) + pg_int4_dot8(q[r].y, x2, x3)
                                + pg_int4_dot8(q[r].z, x4, x5) + pg_int4_dot8(q[r].w, x6, x7);
                        acc[r][j] = fmaf(d, sc[r], acc[r][j]);
                    }
                }
            }
        }
#pragma unroll
        for (int r = 0; r < PG_INT4_ROWS; r++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float s = pg_warp_sum(acc[r][j]);
                if (lane == 0 && r < nr && pc + j < p1) y[(size_t) (pc + j) * y_stride + row0 + r] = s;
            }
        }
    }
}

// Grouped INT4 group-32 GEMV for decode over a stacked buffer (Int4ExpertStack): for every active expert
// (blockIdx.y < *n_active; the grid is sized for the worst case so the launch can be captured in a graph), expert e's
// weight at words + e * expert_words4, its rows offsets[e] .. offsets[e+1]-1 (pg_int4_expert_rows).
extern "C" __global__ void pg_int4_grouped_gemv(const uint4* __restrict__ words, const uint16_t* __restrict__ scales,
                                                long long expert_words4, long long expert_scales, int rows, int cols,
                                                const int* __restrict__ active, const int* __restrict__ n_active,
                                                const int* __restrict__ offsets, const float* __restrict__ x,
                                                int x_stride, const int* __restrict__ row_token,
                                                float* __restrict__ y, int y_stride) {
    if ((int) blockIdx.y >= *n_active) return;
    int e = active[blockIdx.y];
    pg_int4_expert_rows(words + e * expert_words4, scales + e * expert_scales, rows, cols, offsets[e], offsets[e + 1],
                        x, x_stride, row_token, y, y_stride);
}

// out[t][d] = (shared ? shared[t][d] : 0) + sum_j w[t][j] * y_perm[src_pos[t][j]][d]. One block per token; the k
// terms are added in slot order, so the sum does not depend on the permutation's order. A slot with src_pos -1 (an
// invalid expert id, see pg_moe_permute) adds nothing.
extern "C" __global__ void pg_moe_combine(const float* __restrict__ y_perm, int y_stride,
                                          const int* __restrict__ src_pos, const float* __restrict__ topk_w, int k,
                                          const float* __restrict__ shared, float* __restrict__ out, int dim) {
    int t = blockIdx.x;
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float s = shared ? shared[(size_t) t * dim + d] : 0.f;
        for (int j = 0; j < k; j++) {
            int p = src_pos[t * k + j];
            if (p >= 0) s = fmaf(topk_w[t * k + j], y_perm[(size_t) p * y_stride + d], s);
        }
        out[(size_t) t * dim + d] = s;
    }
}
