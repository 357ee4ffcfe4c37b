// MLA attention (spec §3.2). The latent cache is paged: slot s of a sequence lives in physical block
// block_table[b][s / page] at offset s % page; a slot holds width = kv_rank + rope bf16 values (c_kv, then the
// rotated k_pe). Decode uses the absorbed form over the cache; prefill uses the naive form on fp32 k/v.
#pragma once
#include "common.cuh"

#define PG_KV_RANK 512
#define PG_ROPE 64
#define PG_WIDTH (PG_KV_RANK + PG_ROPE)
#define PG_TILE 16
#define PG_HEADS_PER_BLOCK 8

// cache[slot_mapping[t]] = bf16(c_kv[t] ++ k_pe[t]). grid = tokens. Negative slots (padding) are skipped.
extern "C" __global__ void pg_mla_cache_write(const float* __restrict__ ckv, int ckv_stride,
                                              const float* __restrict__ kpe, int kpe_stride,
                                              const int* __restrict__ slot_mapping, uint16_t* __restrict__ cache) {
    int slot = slot_mapping[blockIdx.x];
    if (slot < 0) return;
    uint16_t* dst = cache + (size_t) slot * PG_WIDTH;
    for (int i = threadIdx.x; i < PG_WIDTH; i += blockDim.x) {
        float v = i < PG_KV_RANK ? ckv[(size_t) blockIdx.x * ckv_stride + i]
                                 : kpe[(size_t) blockIdx.x * kpe_stride + i - PG_KV_RANK];
        dst[i] = __bfloat16_as_ushort(__float2bfloat16_rn(v));
    }
}

// Absorbed decode attention, split along the sequence (flash-decoding). q_pe of (b, h) starts at
// q_pe + (b*heads + h) * qpe_head_stride, so it can be read in place from the q projection's output. grid (heads/8, splits, batch), 256 threads:
// warp w is head 8*blockIdx.x + w; lane l holds latent dims l + 32j. Each split walks its positions in tiles of 16
// slots staged in shared memory with 16-byte loads and read by all 8 heads. Writes the split's running max m,
// normaliser l and unnormalised accumulator to part_ml[b][h][split][2] / part_acc[b][h][split][512].
extern "C" __global__ void __launch_bounds__(256) pg_mla_decode_partial(
        const float* __restrict__ q_lat, const float* __restrict__ q_pe, int qpe_head_stride, int heads, const uint16_t* __restrict__ cache,
        const int* __restrict__ block_table, int max_blocks, int page, const int* __restrict__ seq_lens,
        int split_len, float scale, float* __restrict__ part_ml, float* __restrict__ part_acc) {
    __shared__ __align__(16) uint16_t tile[PG_TILE][PG_WIDTH];
    __shared__ float scores[PG_HEADS_PER_BLOCK][PG_TILE];
    int b = blockIdx.z, split = blockIdx.y, splits = gridDim.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int h = blockIdx.x * PG_HEADS_PER_BLOCK + warp;
    bool live = h < heads;
    int hq = live ? h : 0;
    float q[16], qp[2], acc[16];
    const float* ql = q_lat + ((size_t) b * heads + hq) * PG_KV_RANK;
    const float* qr = q_pe + ((size_t) b * heads + hq) * qpe_head_stride;
#pragma unroll
    for (int j = 0; j < 16; j++) { q[j] = ql[lane + 32 * j] * scale; acc[j] = 0.f; }
    qp[0] = qr[lane] * scale;
    qp[1] = qr[lane + 32] * scale;
    float m = -INFINITY, l = 0.f;
    int len = seq_lens[b];
    int s_begin = split * split_len, s_end = min(len, s_begin + split_len);
    const int* bt = block_table + (size_t) b * max_blocks;
    for (int s0 = s_begin; s0 < s_end; s0 += PG_TILE) {
        int cnt = min(PG_TILE, s_end - s0);
        __syncthreads();
        for (int v = threadIdx.x; v < PG_TILE * (PG_WIDTH / 8); v += blockDim.x) {
            int r = v / (PG_WIDTH / 8), c = (v % (PG_WIDTH / 8)) * 8;
            uint4 val = make_uint4(0, 0, 0, 0);
            if (r < cnt) {
                int s = s0 + r;
                size_t slot = (size_t) bt[s / page] * page + s % page;
                val = *reinterpret_cast<const uint4*>(cache + slot * PG_WIDTH + c);
            }
            *reinterpret_cast<uint4*>(&tile[r][c]) = val;
        }
        __syncthreads();
        float* sc = scores[warp];
        float tmax = -INFINITY;
#pragma unroll 2
        for (int r = 0; r < PG_TILE; r++) {
            float d = 0.f;
#pragma unroll
            for (int j = 0; j < 16; j++) d = fmaf(q[j], pg_bf16(tile[r][lane + 32 * j]), d);
            d = fmaf(qp[0], pg_bf16(tile[r][PG_KV_RANK + lane]), d);
            d = fmaf(qp[1], pg_bf16(tile[r][PG_KV_RANK + lane + 32]), d);
            d = pg_warp_sum(d);
            d = r < cnt ? d : -INFINITY;
            tmax = fmaxf(tmax, d);
            if (lane == 0) sc[r] = d;
        }
        __syncwarp();
        float mn = fmaxf(m, tmax);
        float corr = __expf(m - mn);  // m = -inf on the first tile gives 0
        l *= corr;
#pragma unroll
        for (int j = 0; j < 16; j++) acc[j] *= corr;
#pragma unroll 2
        for (int r = 0; r < PG_TILE; r++) {
            float p = r < cnt ? __expf(sc[r] - mn) : 0.f;
            l += p;
#pragma unroll
            for (int j = 0; j < 16; j++) acc[j] = fmaf(p, pg_bf16(tile[r][lane + 32 * j]), acc[j]);
        }
        __syncwarp();
        m = mn;
    }
    if (!live) return;
    size_t o = ((size_t) b * heads + h) * splits + split;
    if (lane == 0) { part_ml[2 * o] = m; part_ml[2 * o + 1] = l; }
#pragma unroll
    for (int j = 0; j < 16; j++) part_acc[o * PG_KV_RANK + lane + 32 * j] = acc[j];
}

// Merges the splits: out_lat[b][h] = sum_i exp(m_i - M) acc_i / sum_i exp(m_i - M) l_i. grid (heads, batch), 128 threads.
extern "C" __global__ void pg_mla_decode_combine(const float* __restrict__ part_ml, const float* __restrict__ part_acc,
                                                 int heads, int splits, float* __restrict__ out_lat) {
    int h = blockIdx.x, b = blockIdx.y;
    size_t base = ((size_t) b * heads + h) * splits;
    float M = -INFINITY;
    for (int i = 0; i < splits; i++) M = fmaxf(M, part_ml[2 * (base + i)]);
    float L = 0.f;
    for (int i = 0; i < splits; i++) {
        float mi = part_ml[2 * (base + i)];
        if (mi != -INFINITY) L += __expf(mi - M) * part_ml[2 * (base + i) + 1];
    }
    float invL = L > 0.f ? 1.f / L : 0.f;
    for (int d = threadIdx.x; d < PG_KV_RANK; d += blockDim.x) {
        float s = 0.f;
        for (int i = 0; i < splits; i++) {
            float mi = part_ml[2 * (base + i)];
            if (mi != -INFINITY) s = fmaf(__expf(mi - M), part_acc[(base + i) * PG_KV_RANK + d], s);
        }
        out_lat[((size_t) b * heads + h) * PG_KV_RANK + d] = s * invL;
    }
}

// Naive-form causal prefill attention for one sequence: q[t][h][nope+rope], kv[s][h][nope+vdim], kpe[s][rope];
// query t (position start+t) sees s <= start+t. grid (tokens, heads), 128 threads; each chunk of 128 positions is
// one score per thread, then an online-softmax update in which thread d owns output dims d and d+128.
// Plain fp32 CUDA-core code: correct, not fast (no tensor cores yet).
extern "C" __global__ void pg_mla_prefill_attention(const float* __restrict__ q, const float* __restrict__ kv,
                                                    const float* __restrict__ kpe, int heads, int nope, int rope,
                                                    int vdim, int start, float scale, float* __restrict__ out) {
    __shared__ float qs[512];
    __shared__ float ps[128];
    __shared__ float scratch[32];
    int t = blockIdx.x, h = blockIdx.y, qk = nope + rope;
    const float* qrow = q + ((size_t) t * heads + h) * qk;
    for (int i = threadIdx.x; i < qk; i += blockDim.x) qs[i] = qrow[i] * scale;
    __syncthreads();
    int last = start + t;
    float m = -INFINITY, l = 0.f, acc0 = 0.f, acc1 = 0.f;
    int d0 = threadIdx.x, d1 = threadIdx.x + 128;
    for (int s0 = 0; s0 <= last; s0 += 128) {
        int s = s0 + threadIdx.x;
        float sc = -INFINITY;
        if (s <= last) {
            const float* k = kv + ((size_t) s * heads + h) * (nope + vdim);
            const float* kp = kpe + (size_t) s * rope;
            float d = 0.f;
            for (int i = 0; i < nope; i++) d = fmaf(qs[i], k[i], d);
            for (int i = 0; i < rope; i++) d = fmaf(qs[nope + i], kp[i], d);
            sc = d;
        }
        float cmax = pg_block_max(sc, scratch);
        float mn = fmaxf(m, cmax);
        float corr = __expf(m - mn);
        float p = s <= last ? __expf(sc - mn) : 0.f;
        ps[threadIdx.x] = p;
        float psum = pg_block_sum(p, scratch);  // its barriers also publish ps
        l = l * corr + psum;
        acc0 *= corr;
        acc1 *= corr;
        int cnt = min(128, last - s0 + 1);
        for (int r = 0; r < cnt; r++) {
            const float* v = kv + ((size_t) (s0 + r) * heads + h) * (nope + vdim) + nope;
            if (d0 < vdim) acc0 = fmaf(ps[r], v[d0], acc0);
            if (d1 < vdim) acc1 = fmaf(ps[r], v[d1], acc1);
        }
        m = mn;
        __syncthreads();
    }
    float* o = out + ((size_t) t * heads + h) * vdim;
    if (d0 < vdim) o[d0] = acc0 / l;
    if (d1 < vdim) o[d1] = acc1 / l;
}
