// Absorbed MLA decode on the tensor cores (mma.sync.m16n8k16, bf16 operands, fp32 accumulate). With 64 heads the
// absorbed form does 121 FLOP per cached byte, far above what fp32 FMA sustains at HBM speed, so the CUDA-core kernel
// in mla.cuh is compute-bound; this one moves both products onto the tensor cores. Same partial layout as
// pg_mla_decode_partial, so pg_mla_decode_combine merges its splits.
//
// Block = 16 heads (one m16 tile) x one split, 128 threads. Per 16-slot tile of the cache:
//   scores S[16 heads][16 slots] = Q[16][576] · C[16][576]^T   (each warp a quarter of k, partials summed in smem)
//   online softmax per head (16 threads), P rounded to bf16
//   O[16][512] += P[16][16] · C[16][512]                       (each warp 128 latent columns: 16 n8 tiles)
// Q is pre-scaled by softmax_scale and rounded to bf16; the check's bound is the bf16-operand one.
#pragma once
#include "common.cuh"
#include "mla.cuh"

#define PG_MH 16
#define PG_MT 16
#define PG_MROW (PG_WIDTH + 8)  // padded row: 1168 bytes, 16-byte aligned, fragment loads conflict-free

__device__ __forceinline__ void pg_mma16816(float* c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3,
                                            uint32_t b0, uint32_t b1) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
}

__device__ __forceinline__ uint32_t pg_ld32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }

extern "C" __global__ void __launch_bounds__(128) pg_mla_decode_partial_mma(
        const float* __restrict__ q_lat, const float* __restrict__ q_pe, int qpe_head_stride, int heads,
        const uint16_t* __restrict__ cache, const int* __restrict__ block_table, int max_blocks, int page,
        const int* __restrict__ seq_lens, int split_len, float scale, float* __restrict__ part_ml,
        float* __restrict__ part_acc) {
    __shared__ __align__(16) uint16_t Qs[PG_MH][PG_MROW];
    __shared__ __align__(16) uint16_t Cs[PG_MT][PG_MROW];
    __shared__ float Sp[4][PG_MH][PG_MT];
    __shared__ __align__(16) uint16_t Ps[PG_MH][PG_MT + 8];
    __shared__ float m_s[PG_MH], l_s[PG_MH], corr_s[PG_MH];
    int b = blockIdx.z, split = blockIdx.y, splits = gridDim.y;
    int h0 = blockIdx.x * PG_MH;
    int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31, g = lane >> 2, q4 = lane & 3;
    for (int i = tid; i < PG_MH * PG_WIDTH; i += blockDim.x) {
        int hh = i / PG_WIDTH, c = i % PG_WIDTH, h = h0 + hh;
        float v = 0.f;
        if (h < heads) {
            v = c < PG_KV_RANK ? q_lat[((size_t) b * heads + h) * PG_KV_RANK + c]
                               : q_pe[((size_t) b * heads + h) * qpe_head_stride + c - PG_KV_RANK];
        }
        Qs[hh][c] = __bfloat16_as_ushort(__float2bfloat16_rn(v * scale));
    }
    if (tid < PG_MH) { m_s[tid] = -INFINITY; l_s[tid] = 0.f; }
    float o[16][4];
#pragma unroll
    for (int t = 0; t < 16; t++) o[t][0] = o[t][1] = o[t][2] = o[t][3] = 0.f;
    int len = seq_lens[b];
    int s_begin = split * split_len, s_end = min(len, s_begin + split_len);
    const int* bt = block_table + (size_t) b * max_blocks;
    for (int s0 = s_begin; s0 < s_end; s0 += PG_MT) {
        int cnt = min(PG_MT, s_end - s0);
        __syncthreads();  // Qs written / last tile's Cs and Ps readers done
        for (int v = tid; v < PG_MT * (PG_WIDTH / 8); v += blockDim.x) {
            int r = v / (PG_WIDTH / 8), c = (v % (PG_WIDTH / 8)) * 8;
            uint4 val = make_uint4(0, 0, 0, 0);
            if (r < cnt) {
                int s = s0 + r;
                size_t slot = (size_t) bt[s / page] * page + s % page;
                val = *reinterpret_cast<const uint4*>(cache + slot * PG_WIDTH + c);
            }
            *reinterpret_cast<uint4*>(&Cs[r][c]) = val;
        }
        __syncthreads();
        // scores: warp w covers k in [144w, 144w + 144), nine k16 steps, both n8 halves of the 16 slots
        float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
        for (int ks = 0; ks < 9; ks++) {
            int k = warp * 144 + ks * 16 + 2 * q4;
            uint32_t a0 = pg_ld32(&Qs[g][k]), a1 = pg_ld32(&Qs[g + 8][k]);
            uint32_t a2 = pg_ld32(&Qs[g][k + 8]), a3 = pg_ld32(&Qs[g + 8][k + 8]);
#pragma unroll
            for (int nt = 0; nt < 2; nt++) {
                pg_mma16816(s[nt], a0, a1, a2, a3, pg_ld32(&Cs[nt * 8 + g][k]), pg_ld32(&Cs[nt * 8 + g][k + 8]));
            }
        }
#pragma unroll
        for (int nt = 0; nt < 2; nt++) {
            Sp[warp][g][nt * 8 + 2 * q4] = s[nt][0];
            Sp[warp][g][nt * 8 + 2 * q4 + 1] = s[nt][1];
            Sp[warp][g + 8][nt * 8 + 2 * q4] = s[nt][2];
            Sp[warp][g + 8][nt * 8 + 2 * q4 + 1] = s[nt][3];
        }
        __syncthreads();
        if (tid < PG_MH) {
            float sc[PG_MT];
            float mx = m_s[tid];
#pragma unroll
            for (int j = 0; j < PG_MT; j++) {
                float v = Sp[0][tid][j] + Sp[1][tid][j] + Sp[2][tid][j] + Sp[3][tid][j];
                sc[j] = j < cnt ? v : -INFINITY;
                mx = fmaxf(mx, sc[j]);
            }
            float corr = __expf(m_s[tid] - mx);  // 0 on the first tile (m = -inf)
            float l = l_s[tid] * corr;
#pragma unroll
            for (int j = 0; j < PG_MT; j++) {
                uint16_t pb = __bfloat16_as_ushort(__float2bfloat16_rn(j < cnt ? __expf(sc[j] - mx) : 0.f));
                Ps[tid][j] = pb;
                l += pg_bf16(pb);  // the normaliser sums exactly the weights the tensor cores use
            }
            m_s[tid] = mx;
            l_s[tid] = l;
            corr_s[tid] = corr;
        }
        __syncthreads();
        float c_lo = corr_s[g], c_hi = corr_s[g + 8];
        uint32_t a0 = pg_ld32(&Ps[g][2 * q4]), a1 = pg_ld32(&Ps[g + 8][2 * q4]);
        uint32_t a2 = pg_ld32(&Ps[g][2 * q4 + 8]), a3 = pg_ld32(&Ps[g + 8][2 * q4 + 8]);
#pragma unroll
        for (int t = 0; t < 16; t++) {
            o[t][0] *= c_lo; o[t][1] *= c_lo; o[t][2] *= c_hi; o[t][3] *= c_hi;
            int col = warp * 128 + t * 8 + g;
            uint32_t b0 = (uint32_t) Cs[2 * q4][col] | ((uint32_t) Cs[2 * q4 + 1][col] << 16);
            uint32_t b1 = (uint32_t) Cs[2 * q4 + 8][col] | ((uint32_t) Cs[2 * q4 + 9][col] << 16);
            pg_mma16816(o[t], a0, a1, a2, a3, b0, b1);
        }
    }
    __syncthreads();
#pragma unroll
    for (int t = 0; t < 16; t++) {
        int col = warp * 128 + t * 8 + 2 * q4;
        int hl = h0 + g, hh = h0 + g + 8;
        if (hl < heads) {
            size_t o_lo = (((size_t) b * heads + hl) * splits + split) * PG_KV_RANK + col;
            part_acc[o_lo] = o[t][0];
            part_acc[o_lo + 1] = o[t][1];
        }
        if (hh < heads) {
            size_t o_hi = (((size_t) b * heads + hh) * splits + split) * PG_KV_RANK + col;
            part_acc[o_hi] = o[t][2];
            part_acc[o_hi + 1] = o[t][3];
        }
    }
    if (tid < PG_MH && h0 + tid < heads) {
        size_t o = ((size_t) b * heads + h0 + tid) * splits + split;
        part_ml[2 * o] = m_s[tid];
        part_ml[2 * o + 1] = l_s[tid];
    }
}
