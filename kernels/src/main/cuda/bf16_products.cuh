// BF16 weight products: a memory-bound GEMV for decode (few tokens) and the transposed product used for MLA's
// absorbed query. The prefill tensor-core product lives in mma_gemm.cuh.
#pragma once
#include "common.cuh"

// y[t][r] = sum_c W[r][c] * x[t][c], r < rows, t < n. One warp per row; each lane issues two 16-byte weight loads
// (8 bf16 each) before using either. Tokens in chunks of 4 share each loaded weight vector.
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
    int row = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (row >= rows) return;
    const uint4* wr = reinterpret_cast<const uint4*>(W + (size_t) row * cols);
    int nv = cols >> 3;
    for (int t0 = 0; t0 < n; t0 += 4) {
        float acc[4] = {0.f, 0.f, 0.f, 0.f};
        for (int v = lane; v < nv; v += 64) {
            bool two = v + 32 < nv;
            uint4 q0 = wr[v];
            uint4 q1 = two ? wr[v + 32] : make_uint4(0, 0, 0, 0);
#pragma unroll
            for (int j = 0; j < 4; j++) {
                if (t0 + j < n) {
                    const float4* xr = reinterpret_cast<const float4*>(x + (size_t) (t0 + j) * x_stride);
                    float4 a = xr[2 * v], b = xr[2 * v + 1];
                    float s = acc[j];
                    s = fmaf(pg_bf16_lo(q0.x), a.x, s); s = fmaf(pg_bf16_hi(q0.x), a.y, s);
                    s = fmaf(pg_bf16_lo(q0.y), a.z, s); s = fmaf(pg_bf16_hi(q0.y), a.w, s);
                    s = fmaf(pg_bf16_lo(q0.z), b.x, s); s = fmaf(pg_bf16_hi(q0.z), b.y, s);
                    s = fmaf(pg_bf16_lo(q0.w), b.z, s); s = fmaf(pg_bf16_hi(q0.w), b.w, s);
                    if (two) {
                        float4 c = xr[2 * v + 64], d = xr[2 * v + 65];
                        s = fmaf(pg_bf16_lo(q1.x), c.x, s); s = fmaf(pg_bf16_hi(q1.x), c.y, s);
                        s = fmaf(pg_bf16_lo(q1.y), c.z, s); s = fmaf(pg_bf16_hi(q1.y), c.w, s);
                        s = fmaf(pg_bf16_lo(q1.z), d.x, s); s = fmaf(pg_bf16_hi(q1.z), d.y, s);
                        s = fmaf(pg_bf16_lo(q1.w), d.z, s); s = fmaf(pg_bf16_hi(q1.w), d.w, s);
                    }
                    acc[j] = s;
                }
            }
        }
#pragma unroll
        for (int j = 0; j < 4; j++) {
            float s = pg_warp_sum(acc[j]);
            if (lane == 0 && t0 + j < n) y[(size_t) (t0 + j) * y_stride + row] = s;
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
