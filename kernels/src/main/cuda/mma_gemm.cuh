// Prefill products on the tensor cores with mma.sync.m16n8k16 (bf16 in, fp32 accumulate): y[t][r] = sum_k W[r][k] x[t][k].
// Not wgmma: this is the plain sm_80-style warp-level MMA, which also runs on Hopper at a fraction of its peak.
// A tile is 64 weight rows x 64 tokens, stepped 32 along k (one INT4 group). Weights are converted to bf16 in
// shared memory (INT4: dequantised with the group scale), activations rounded fp32 -> bf16 on the way in.
#pragma once
#include "common.cuh"

#define PG_BM 64
#define PG_BN 64
#define PG_BK 32
#define PG_PAD 8  // bf16 of padding per shared row: row stride 80 bytes keeps the fragment loads conflict-free

__device__ __forceinline__ uint16_t pg_to_bf16(float f) {
    return __bfloat16_as_ushort(__float2bfloat16_rn(f));
}

__device__ __forceinline__ void pg_mma_bf16(float* c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                            uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

// The shared body. INT4 selects the weight format; row_index (nullable) maps a tile's token row to an activation
// row; out rows are tok0 + i. 128 threads: warp w owns weight rows 16w..16w+15 of the tile and all 64 tokens.
template <bool INT4>
__device__ __forceinline__ void pg_mma_tile(const void* __restrict__ W, const uint16_t* __restrict__ scales,
                                            int rows, int cols, int row0, const float* __restrict__ x,
                                            int x_stride, const int* __restrict__ row_index, int tok0, int ntok,
                                            float* __restrict__ y, int y_stride) {
    __shared__ __align__(16) uint16_t Ws[PG_BM][PG_BK + PG_PAD];
    __shared__ __align__(16) uint16_t Xs[PG_BN][PG_BK + PG_PAD];
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
    int g = lane >> 2, q = lane & 3;
    float acc[8][4];
#pragma unroll
    for (int n = 0; n < 8; n++) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
    int groups = cols >> 5;
    for (int k0 = 0; k0 < cols; k0 += PG_BK) {
        // weights -> Ws (bf16)
        if (INT4) {
            if (tid < PG_BM) {
                int r = row0 + tid;
                uint16_t* dst = &Ws[tid][0];
                if (r < rows) {
                    uint4 w = reinterpret_cast<const uint4*>(W)[(size_t) r * groups + (k0 >> 5)];
                    float s = pg_bf16(scales[(size_t) r * groups + (k0 >> 5)]);
                    uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
                    for (int i = 0; i < 4; i++) {
#pragma unroll
                        for (int n = 0; n < 8; n++) dst[8 * i + n] = pg_to_bf16((float) ((int) ((ws[i] >> (4 * n)) & 0xF) - 8) * s);
                    }
                } else {
#pragma unroll
                    for (int i = 0; i < PG_BK; i++) dst[i] = 0;
                }
            }
        } else {
            for (int v = tid; v < PG_BM * PG_BK / 8; v += blockDim.x) {
                int rr = v / (PG_BK / 8), cc = (v % (PG_BK / 8)) * 8;
                int r = row0 + rr;
                uint4 w = r < rows ? *reinterpret_cast<const uint4*>(reinterpret_cast<const uint16_t*>(W) + (size_t) r * cols + k0 + cc)
                                   : make_uint4(0, 0, 0, 0);
                *reinterpret_cast<uint4*>(&Ws[rr][cc]) = w;
            }
        }
        // activations -> Xs (bf16)
        for (int v = tid; v < PG_BN * PG_BK / 4; v += blockDim.x) {
            int tt = v / (PG_BK / 4), cc = (v % (PG_BK / 4)) * 4;
            float4 a = make_float4(0.f, 0.f, 0.f, 0.f);
            if (tt < ntok) {
                int xrow = row_index ? row_index[tok0 + tt] : tok0 + tt;
                a = *reinterpret_cast<const float4*>(x + (size_t) xrow * x_stride + k0 + cc);
            }
            Xs[tt][cc] = pg_to_bf16(a.x);
            Xs[tt][cc + 1] = pg_to_bf16(a.y);
            Xs[tt][cc + 2] = pg_to_bf16(a.z);
            Xs[tt][cc + 3] = pg_to_bf16(a.w);
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < PG_BK; kk += 16) {
            const uint16_t* arow0 = &Ws[16 * warp + g][kk + 2 * q];
            const uint16_t* arow1 = &Ws[16 * warp + g + 8][kk + 2 * q];
            uint32_t a0 = *reinterpret_cast<const uint32_t*>(arow0);
            uint32_t a1 = *reinterpret_cast<const uint32_t*>(arow1);
            uint32_t a2 = *reinterpret_cast<const uint32_t*>(arow0 + 8);
            uint32_t a3 = *reinterpret_cast<const uint32_t*>(arow1 + 8);
#pragma unroll
            for (int n = 0; n < 8; n++) {
                const uint16_t* brow = &Xs[8 * n + g][kk + 2 * q];
                uint32_t b0 = *reinterpret_cast<const uint32_t*>(brow);
                uint32_t b1 = *reinterpret_cast<const uint32_t*>(brow + 8);
                pg_mma_bf16(acc[n], a0, a1, a2, a3, b0, b1);
            }
        }
        __syncthreads();
    }
    // C fragment: c0,c1 at (row g, tokens 2q, 2q+1), c2,c3 at (row g+8, same tokens)
#pragma unroll
    for (int n = 0; n < 8; n++) {
        int r_lo = row0 + 16 * warp + g, r_hi = r_lo + 8;
        int t0 = 8 * n + 2 * q, t1 = t0 + 1;
        if (t0 < ntok) {
            if (r_lo < rows) y[(size_t) (tok0 + t0) * y_stride + r_lo] = acc[n][0];
            if (r_hi < rows) y[(size_t) (tok0 + t0) * y_stride + r_hi] = acc[n][2];
        }
        if (t1 < ntok) {
            if (r_lo < rows) y[(size_t) (tok0 + t1) * y_stride + r_lo] = acc[n][1];
            if (r_hi < rows) y[(size_t) (tok0 + t1) * y_stride + r_hi] = acc[n][3];
        }
    }
}

// BF16 prefill product: grid (ceil(rows/64), ceil(n/64)), 128 threads. cols % 32 == 0, x_stride % 4 == 0.
extern "C" __global__ void __launch_bounds__(128) pg_bf16_gemm_mma(const uint16_t* __restrict__ W, int rows, int cols,
                                                                  const float* __restrict__ x, int x_stride, int n,
                                                                  float* __restrict__ y, int y_stride) {
    int tok0 = blockIdx.y * PG_BN;
    pg_mma_tile<false>(W, nullptr, rows, cols, blockIdx.x * PG_BM, x, x_stride, nullptr, tok0,
                       min(PG_BN, n - tok0), y, y_stride);
}

// Grouped INT4 prefill product over a host-built tile list (TileSchedule): tile i covers permuted rows
// tile_row0[i] .. +tile_rows[i] (<= 64) of expert tile_expert[i]. grid (ceil(rows/64), tiles), 128 threads.
extern "C" __global__ void __launch_bounds__(128) pg_int4_grouped_gemm_mma(
        const uint4* __restrict__ words, const uint16_t* __restrict__ scales, long long expert_words4,
        long long expert_scales, int rows, int cols, const int* __restrict__ tile_expert,
        const int* __restrict__ tile_row0, const int* __restrict__ tile_rows, const float* __restrict__ x,
        int x_stride, const int* __restrict__ row_token, float* __restrict__ y, int y_stride) {
    int i = blockIdx.y;
    int e = tile_expert[i];
    pg_mma_tile<true>(words + e * expert_words4, scales + e * expert_scales, rows, cols, blockIdx.x * PG_BM, x,
                      x_stride, row_token, tile_row0[i], tile_rows[i], y, y_stride);
}
