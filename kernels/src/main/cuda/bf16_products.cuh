// BF16 weight products: a memory-bound GEMV for decode (few tokens) and the transposed product used for MLA's
// absorbed query. The prefill tensor-core product lives in mma_gemm.cuh.
#pragma once
#include "common.cuh"

#define PG_GEMV_ROWS 4  // weight rows per warp: each activation chunk loaded once serves four rows

// y[t][r] = sum_c W[r][c] * x[t][c], r < rows, t < n. One warp per 4 rows; per step each lane issues the four
// rows' 16-byte weight loads (8 bf16 each) before using any, and the activation chunk it loads once (2 float4 per
// token) serves all four, so L1 traffic stays below the weight stream. Tokens in chunks of 4.
// Requires cols % 8 == 0 and x_stride, x_head % 4 == 0 (float4 activation loads); the launcher checks both.
// blockIdx.y selects a head: W, x and y advance by w_head, x_head, y_head elements (0 for a plain product), which
// is MLA's per-head W_UV product o_h = o_lat_h · W_UV_h^T in one launch.
extern "C" __global__ void pg_bf16_gemv(const uint16_t* __restrict__ W, int rows, int cols,
                                        const float* __restrict__ x, int x_stride, int n,
                                        float* __restrict__ y, int y_stride,
                                        long long w_head, int x_head, int y_head) {
    W += blockIdx.y * w_head;
    x += blockIdx.y * x_head;
    y += blockIdx.y * y_head;
    int row0 = ((blockIdx.x * blockDim.x + threadIdx.x) >> 5) * PG_GEMV_ROWS;
    int lane = threadIdx.x & 31;
    if (row0 >= rows) return;
    int nr = min(PG_GEMV_ROWS, rows - row0);
    int nv = cols >> 3;
    const uint4* wr = reinterpret_cast<const uint4*>(W + (size_t) row0 * cols);
    for (int t0 = 0; t0 < n; t0 += 4) {
        float acc[PG_GEMV_ROWS][4] = {};
        for (int v = lane; v < nv; v += 32) {
            uint4 q[PG_GEMV_ROWS];
#pragma unroll
            for (int r = 0; r < PG_GEMV_ROWS; r++) q[r] = r < nr ? wr[(size_t) r * nv + v] : make_uint4(0, 0, 0, 0);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                if (t0 + j < n) {
                    const float4* xr = reinterpret_cast<const float4*>(x + (size_t) (t0 + j) * x_stride);
                    float4 a = xr[2 * v], b = xr[2 * v + 1];
#pragma unroll
                    for (int r = 0; r < PG_GEMV_ROWS; r++) {
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
        for (int r = 0; r < PG_GEMV_ROWS; r++) {
#pragma unroll
            for (int j = 0; j < 4; j++) {
                float s = pg_warp_sum(acc[r][j]);
                if (lane == 0 && r < nr && t0 + j < n) y[(size_t) (t0 + j) * y_stride + row0 + r] = s;
            }
        }
    }
}

// y[c] = sum_r x[r] * W[r][c] for all cols (W already offset to the first row of the band). Each thread owns two
// adjacent columns (one 32-bit load per row), consecutive threads consecutive columns: every row read is coalesced.
// blockIdx.y = head (W += h*w_head, x += h*x_head, y += h*y_head), blockIdx.z = token (x += t*x_tok, y += t*y_tok):
// MLA's absorbed query q_lat_h = q_nope_h · W_UK_h for every head and token in one launch.
extern "C" __global__ void pg_bf16_gemv_t(const uint16_t* __restrict__ W, int rows, int cols,
                                          const float* __restrict__ x, float* __restrict__ y,
                                          long long w_head, int x_head, int x_tok, int y_head, int y_tok) {
    W += blockIdx.y * w_head;
    x += (size_t) blockIdx.y * x_head + (size_t) blockIdx.z * x_tok;
    y += (size_t) blockIdx.y * y_head + (size_t) blockIdx.z * y_tok;
    int c2 = blockIdx.x * blockDim.x + threadIdx.x;
    if (2 * c2 >= cols) return;
    const uint32_t* w = reinterpret_cast<const uint32_t*>(W) + c2;
    int half = cols >> 1;
    float a = 0.f, b = 0.f;
    for (int r = 0; r < rows; r++) {
        uint32_t q = w[(size_t) r * half];
        float xv = x[r];
        a = fmaf(pg_bf16_lo(q), xv, a);
        b = fmaf(pg_bf16_hi(q), xv, b);
    }
    y[2 * c2] = a;
    y[2 * c2 + 1] = b;
}
