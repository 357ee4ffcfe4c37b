// Experimental: the BF16 prefill product on Hopper's warpgroup MMA (wgmma.mma_async, sm_90a only). Not yet run on a
// device; scripts/gpu-check.sh checks it against the scalar reference next to the mma.sync kernel, which stays the
// one DeviceOps.bf16Gemm uses until it passes there.
//
// Block = one warpgroup (128 threads), tile 64 weight rows x 64 tokens, k in steps of 64 staged in shared memory.
// Both operands K-major without swizzle: "core matrices" of 8 rows x 16 bytes stored as 128 contiguous bytes, core
// (row group i, k group j) at byte (j*8 + i)*128. In the descriptors the leading-dimension offset is the distance
// between k-adjacent cores (1024 B) and the stride-dimension offset the distance between row-adjacent cores (128 B).
#pragma once
#include "common.cuh"

#define PG_WG_TILE 64
#define PG_WG_K 64

__device__ __forceinline__ uint64_t pg_wgmma_desc(const void* smem, uint32_t lbo, uint32_t sbo) {
    uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
    uint64_t d = 0;
    d |= (uint64_t) ((addr & 0x3FFFF) >> 4);
    d |= (uint64_t) ((lbo & 0x3FFFF) >> 4) << 16;
    d |= (uint64_t) ((sbo & 0x3FFFF) >> 4) << 32;
    return d;  // base offset 0, swizzle mode 0 (none)
}

// byte offset of (row, k) inside a 64 x 64 bf16 tile in the core-matrix layout above
__device__ __forceinline__ int pg_core_off(int row, int k) {
    return ((k >> 3) * 8 + (row >> 3)) * 128 + (row & 7) * 16 + (k & 7) * 2;
}

// Staging slot v (0..511) of a 64 x 64 tile moved in 8-element pieces -> (row, k). Eight consecutive slots take the
// same k piece of eight consecutive rows, so the 16-byte stores of each quarter-warp fill one contiguous 128-byte
// line of the core-matrix layout (conflict-free; slot v -> (v >> 3, 8 (v & 7)) put them 1024 bytes apart, 8-way),
// and a warp still reads whole 32-byte sectors: 8 rows, 4 consecutive pieces of each. A bijection onto the tile:
// v's bits are (k half | row group | k piece | row in group).
__device__ __forceinline__ void pg_wg_piece(int v, int& row, int& k) {
    row = ((v >> 5) & 7) * 8 + (v & 7);
    k = (v >> 8) * 32 + ((v >> 3) & 3) * 8;
}

// The shared body: INT4 selects the weight format (dequantised with its group scales into the bf16 tile);
// row_index (nullable) maps a token row of the tile to an activation row; out rows are tok0 + i.
template <bool INT4>
__device__ __forceinline__ void pg_wgmma_tile(const void* __restrict__ W, const uint16_t* __restrict__ scales,
                                              int rows, int cols, int row0, const float* __restrict__ x,
                                              int x_stride, const int* __restrict__ row_index, int tok0, int n,
                                              float* __restrict__ y, int y_stride) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
    __shared__ __align__(128) uint8_t As[PG_WG_TILE * PG_WG_K * 2];
    __shared__ __align__(128) uint8_t Bs[PG_WG_TILE * PG_WG_K * 2];
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q = lane & 3;
    int groups = cols >> 5;
    float d[32];
#pragma unroll
    for (int i = 0; i < 32; i++) d[i] = 0.f;
    for (int k0 = 0; k0 < cols; k0 += PG_WG_K) {
        if (INT4) {
            // 64 rows x 2 groups: one 16-byte group (32 weights) per thread. Lanes 2m and 2m+1 share a row, so a
            // quarter-warp's stores cover four rows: 2-way conflicts (row per lane would halve the global sectors)
            int r = tid >> 1, grp = tid & 1;
            uint4 w = make_uint4(0x88888888u, 0x88888888u, 0x88888888u, 0x88888888u);
            float s = 0.f;
            if (row0 + r < rows) {
                size_t at = (size_t) (row0 + r) * groups + (k0 >> 5) + grp;
                w = reinterpret_cast<const uint4*>(W)[at];
                s = pg_bf16(scales[at]);
            }
            uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
                uint32_t packed[4];
#pragma unroll
                for (int e = 0; e < 4; e++) {
                    float lo = (float) ((int) ((ws[i] >> (8 * e)) & 0xF) - 8) * s;
                    float hi = (float) ((int) ((ws[i] >> (8 * e + 4)) & 0xF) - 8) * s;
                    __nv_bfloat162 p = __floats2bfloat162_rn(lo, hi);
                    packed[e] = *reinterpret_cast<uint32_t*>(&p);
                }
                *reinterpret_cast<uint4*>(As + pg_core_off(r, grp * 32 + 8 * i)) =
                        make_uint4(packed[0], packed[1], packed[2], packed[3]);
            }
        } else {
            // 64 rows x 8 vectors of 8 bf16
            for (int v = tid; v < PG_WG_TILE * (PG_WG_K / 8); v += 128) {
                int r, kk;
                pg_wg_piece(v, r, kk);
                uint4 val = make_uint4(0, 0, 0, 0);
                if (row0 + r < rows) {
                    val = *reinterpret_cast<const uint4*>(reinterpret_cast<const uint16_t*>(W) + (size_t) (row0 + r) * cols + k0 + kk);
                }
                *reinterpret_cast<uint4*>(As + pg_core_off(r, kk)) = val;
            }
        }
        // B: 64 tokens x 8 vectors of 8 activations rounded to bf16
        for (int v = tid; v < PG_WG_TILE * (PG_WG_K / 8); v += 128) {
            int t, kk;
            pg_wg_piece(v, t, kk);
            uint4 val = make_uint4(0, 0, 0, 0);
            if (t < n) {
                int xrow = row_index ? row_index[tok0 + t] : tok0 + t;
                const float4* src = reinterpret_cast<const float4*>(x + (size_t) xrow * x_stride + k0 + kk);
                float4 a = src[0], b = src[1];
                __nv_bfloat162 p0 = __floats2bfloat162_rn(a.x, a.y), p1 = __floats2bfloat162_rn(a.z, a.w);
                __nv_bfloat162 p2 = __floats2bfloat162_rn(b.x, b.y), p3 = __floats2bfloat162_rn(b.z, b.w);
                val = make_uint4(*reinterpret_cast<uint32_t*>(&p0), *reinterpret_cast<uint32_t*>(&p1),
                                 *reinterpret_cast<uint32_t*>(&p2), *reinterpret_cast<uint32_t*>(&p3));
            }
            *reinterpret_cast<uint4*>(Bs + pg_core_off(t, kk)) = val;
        }
    // generic-proxy stores must be visible to the async proxy the tensor cores read through
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        __syncthreads();
        asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
        for (int ks = 0; ks < PG_WG_K / 16; ks++) {
            uint64_t da = pg_wgmma_desc(As + ks * 2 * 1024, 1024, 128);
            uint64_t db = pg_wgmma_desc(Bs + ks * 2 * 1024, 1024, 128);
            // scale-d is a predicate operand (D = A·B + D when true), set from a register as CUTLASS's
            // SM90 GMMA atoms do; scale-a/b (1: no negation) and the transposes (0: K-major) are immediates
            asm volatile(
                "{\n"
                ".reg .pred p;\n"
                "setp.ne.b32 p, %34, 0;\n"
                "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
                "{%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%24,%25,%26,%27,%28,%29,%30,%31}, %32, %33, p, 1, 1, 0, 0;\n"
                "}\n"
                : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
                : "l"(da), "l"(db), "r"(1)
                : "memory");
        }
        asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
        asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
        __syncthreads();
    }
    // accumulator layout: d[4j + {0,1}] = (row 16w + g, token 8j + 2q + {0,1}), d[4j + {2,3}] = row + 8
#pragma unroll
    for (int j = 0; j < 8; j++) {
        int r_lo = row0 + 16 * warp + g, r_hi = r_lo + 8;
        int t0 = 8 * j + 2 * q, t1 = t0 + 1;
        if (t0 < n) {
            if (r_lo < rows) y[(size_t) (tok0 + t0) * y_stride + r_lo] = d[4 * j];
            if (r_hi < rows) y[(size_t) (tok0 + t0) * y_stride + r_hi] = d[4 * j + 2];
        }
        if (t1 < n) {
            if (r_lo < rows) y[(size_t) (tok0 + t1) * y_stride + r_lo] = d[4 * j + 1];
            if (r_hi < rows) y[(size_t) (tok0 + t1) * y_stride + r_hi] = d[4 * j + 3];
        }
    }
#else
    __trap();  // wgmma exists only on sm_90a; the compute_90 PTX keeps the symbol and refuses to run
#endif
}

// BF16 product: grid (ceil(rows/64), ceil(n/64)), 128 threads. cols % 64 == 0, x_stride % 4 == 0.
extern "C" __global__ void __launch_bounds__(128) pg_bf16_gemm_wgmma(const uint16_t* __restrict__ W, int rows, int cols,
                                                                    const float* __restrict__ x, int x_stride, int n,
                                                                    float* __restrict__ y, int y_stride) {
    int tok0 = blockIdx.y * PG_WG_TILE;
    pg_wgmma_tile<false>(W, nullptr, rows, cols, blockIdx.x * PG_WG_TILE, x, x_stride, nullptr, tok0,
                         min(PG_WG_TILE, n - tok0), y, y_stride);
}

// Grouped INT4 product over the TileSchedule list, as pg_int4_grouped_gemm_mma. cols % 64 == 0.
extern "C" __global__ void __launch_bounds__(128) pg_int4_grouped_gemm_wgmma(
        const uint4* __restrict__ words, const uint16_t* __restrict__ scales, long long expert_words4,
        long long expert_scales, int rows, int cols, const int* __restrict__ tile_expert,
        const int* __restrict__ tile_row0, const int* __restrict__ tile_rows, const float* __restrict__ x,
        int x_stride, const int* __restrict__ row_token, float* __restrict__ y, int y_stride) {
    int i = blockIdx.y;
    int e = tile_expert[i];
    pg_wgmma_tile<true>(words + e * expert_words4, scales + e * expert_scales, rows, cols, blockIdx.x * PG_WG_TILE,
                        x, x_stride, row_token, tile_row0[i], tile_rows[i], y, y_stride);
}
