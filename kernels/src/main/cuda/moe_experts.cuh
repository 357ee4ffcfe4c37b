// A MoE layer's routed experts as the engine's CudaBackend runs them (Backend.moe): the experts' weights stay where
// they were uploaded, one buffer per matrix, and a per-layer device table holds their addresses, so the grouped
// GEMVs find any expert without a stacked copy. Table layout, for the `held` experts first .. first+held-1 of a
// rank: INT4, six rows of `held` addresses (gate words, gate scales, up words, up scales, down words, down scales);
// BF16, three (gate, up, down). Every launch is sized from the token count and the config only: blocks of experts
// without rows (or not held here) return at once, so one captured graph serves every routing.
#pragma once
#include "common.cuh"
#include "int4_moe.cuh"

// table[j * held + e] = p_j for j < n (n <= 6): one expert's addresses, written once when the layer is loaded.
extern "C" __global__ void pg_expert_table_set(unsigned long long* __restrict__ table, int e, int held, int n,
                                               const void* p0, const void* p1, const void* p2, const void* p3,
                                               const void* p4, const void* p5) {
    if (threadIdx.x != 0 || blockIdx.x != 0) return;
    const void* p[6] = {p0, p1, p2, p3, p4, p5};
    for (int j = 0; j < n && j < 6; j++) table[(size_t) j * held + e] = (unsigned long long) p[j];
}

// For every active expert held here (blockIdx.y < *n_active, active[] holds layer-wide ids ascending) and weight
// set s = set0 + blockIdx.z (0 gate, 1 up, 2 down): y + blockIdx.z * y_set gets the expert's rows
// offsets[e] .. offsets[e+1]-1 of x (gathered through row_token when given). INT4 group-32 weights.
extern "C" __global__ void pg_moe_int4_gemv(const unsigned long long* __restrict__ table, int held, int first,
                                            int set0, int rows, int cols, const int* __restrict__ active,
                                            const int* __restrict__ n_active, const int* __restrict__ offsets,
                                            const float* __restrict__ x, int x_stride,
                                            const int* __restrict__ row_token, float* __restrict__ y, int y_stride,
                                            int y_set) {
    if ((int) blockIdx.y >= *n_active) return;
    int ge = active[blockIdx.y];
    int e = ge - first;
    if ((unsigned) e >= (unsigned) held) return;
    int s = set0 + blockIdx.z;
    const uint4* words = reinterpret_cast<const uint4*>(table[(size_t) (2 * s) * held + e]);
    const uint16_t* scales = reinterpret_cast<const uint16_t*>(table[(size_t) (2 * s + 1) * held + e]);
    pg_int4_expert_rows(words, scales, rows, cols, offsets[ge], offsets[ge + 1], x, x_stride, row_token,
                        y + (size_t) blockIdx.z * y_set, y_stride);
}

// The same for BF16 experts (one address per weight): one warp per 4 rows, 16-byte weight loads, tokens in fours,
// as pg_bf16_gemv. Requires cols % 8 == 0 and x_stride % 4 == 0.
extern "C" __global__ void pg_moe_bf16_gemv(const unsigned long long* __restrict__ table, int held, int first,
                                            int set0, int rows, int cols, const int* __restrict__ active,
                                            const int* __restrict__ n_active, const int* __restrict__ offsets,
                                            const float* __restrict__ x, int x_stride,
                                            const int* __restrict__ row_token, float* __restrict__ y, int y_stride,
                                            int y_set) {
    if ((int) blockIdx.y >= *n_active) return;
    int ge = active[blockIdx.y];
    int e = ge - first;
    if ((unsigned) e >= (unsigned) held) return;
    const uint16_t* W = reinterpret_cast<const uint16_t*>(table[(size_t) (set0 + blockIdx.z) * held + e]);
    y += (size_t) blockIdx.z * y_set;
    int row0 = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * PG_INT4_ROWS;
    int lane = threadIdx.x & 31;
    if (row0 >= rows) return;
    int nr = min(PG_INT4_ROWS, rows - row0);
    int nv = cols >> 3;
    const uint4* wr = reinterpret_cast<const uint4*>(W + (size_t) row0 * cols);
    int p0 = offsets[ge], p1 = offsets[ge + 1];
    for (int pc = p0; pc < p1; pc += 4) {
        float acc[PG_INT4_ROWS][4] = {};
        const float* xr[4];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int p = min(pc + j, p1 - 1);
            xr[j] = x + (size_t) (row_token ? row_token[p] : p) * x_stride;
        }
        for (int v = lane; v < nv; v += 32) {
            uint4 q[PG_INT4_ROWS];
#pragma unroll
            for (int r = 0; r < PG_INT4_ROWS; r++) q[r] = r < nr ? wr[(size_t) r * nv + v] : make_uint4(0, 0, 0, 0);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                if (pc + j < p1) {
                    const float4* xv = reinterpret_cast<const float4*>(xr[j]);
                    float4 a = xv[2 * v], b = xv[2 * v + 1];
#pragma unroll
                    for (int r = 0; r < PG_INT4_ROWS; r++) {
                        float s = acc[r][j];
                        s = fmaf(pg_bf16_lo(q[r].x), a.x, s); s = fmaf(pg_bf16_hi(q[r].x), a.y, s);
                        s = fmaf(pg_bf16_lo(q[r].y), a.z, s); s = fmaf(pg_bf16_hi(q[r].y), a.w, s);
                        s = fmaf(pg_bf16_lo(q[r].z), b.x, s); s = fmaf(pg_bf16_hi(q[r].z), b.y, s);
                        s = fmaf(pg_bf16_lo(q[r].w), b.z, s); s = fmaf(pg_bf16_hi(q[r].w), b.w, s);
                        acc[r][j] = s;
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

// out[t][d] = (shared ? shared[t][d] : 0) + sum of w[t][j] * y_perm[src_pos[t][j]][d] over token t's slots whose
// expert is held here (first <= e < first + held), added in ascending expert order — the CPU backend's order — so
// the sum has one fixed order whatever the permutation did. One block per token; k <= 64.
extern "C" __global__ void pg_moe_combine_held(const float* __restrict__ y_perm, int y_stride,
                                               const int* __restrict__ src_pos, const int* __restrict__ topk_idx,
                                               const float* __restrict__ topk_w, int k, int first, int held,
                                               const float* __restrict__ shared, int shared_stride,
                                               float* __restrict__ out, int out_stride, int dim) {
    __shared__ int order[64];
    __shared__ int count;
    int t = blockIdx.x;
    const int* idx = topk_idx + (size_t) t * k;
    if (threadIdx.x == 0) {
        int c = 0;
        for (int j = 0; j < k && j < 64; j++) {
            int e = idx[j];
            if (e < first || e >= first + held || src_pos[(size_t) t * k + j] < 0) continue;
            int i = c++;
            while (i > 0 && idx[order[i - 1]] > e) {
                order[i] = order[i - 1];
                i--;
            }
            order[i] = j;
        }
        count = c;
    }
    __syncthreads();
    for (int d = threadIdx.x; d < dim; d += blockDim.x) {
        float s = shared ? shared[(size_t) t * shared_stride + d] : 0.f;
        for (int i = 0; i < count; i++) {
            int j = order[i];
            s = fmaf(topk_w[(size_t) t * k + j], y_perm[(size_t) src_pos[(size_t) t * k + j] * y_stride + d], s);
        }
        out[(size_t) t * out_stride + d] = s;
    }
}
