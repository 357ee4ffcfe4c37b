// Absorbed MLA attention for one query over fp32 latents of any width, for the engine-facing CudaBackend: the
// engine's latent cache is fp32 and its kv_rank is whatever the checkpoint says (the tiny golden model has 32), while
// the paged decode kernels of mla.cuh read a bf16 cache of the K2.5 width 512 + 64. Plain fp32 CUDA-core code with
// the same online softmax as pg_mla_prefill_attention: correct for any size, not tuned.
#pragma once
#include "common.cuh"

// grid = (heads, rows), 128 threads (any multiple of 32): every decode row of a step in one launch, its context read
// through the slot list where it lies in the cache slab, so nothing is sized or gathered on the host (graph-capturable).
// Row t attends to slab rows slots[starts[t] .. starts[t+1]) in that order (positions in order); each slab row holds
// [kv_rank + rope] floats, slab_stride apart. q_lat row t at q_lat + t * q_lat_stride, head h's kv_rank values after
// h * kv_rank; q_pe of (t, h) at q_pe + t * qpe_row_stride + h * qpe_head_stride; out_lat likewise at out_stride.
// Dynamic shared memory: (2 * kv_rank + rope + blockDim.x) floats: the query, the accumulator (thread d owns dims d,
// d + blockDim.x, ...) and the chunk's probabilities.
// out_lat[t][h] = sum_s softmax_s((q_lat.c_kv(s) + q_pe.k_pe(s)) * scale) c_kv(s).
extern "C" __global__ void pg_mla_absorbed_f32(const float* __restrict__ q_lat, int q_lat_stride,
                                               const float* __restrict__ q_pe, int qpe_row_stride, int qpe_head_stride,
                                               int kv_rank, int rope, const float* __restrict__ slab, int slab_stride,
                                               const int* __restrict__ slots, const int* __restrict__ starts,
                                               float scale, float* __restrict__ out_lat, int out_stride) {
    extern __shared__ float sm[];
    __shared__ float scratch[32];
    int h = blockIdx.x, t = blockIdx.y, width = kv_rank + rope, tid = threadIdx.x;
    const int from = starts[t], count = starts[t + 1] - from;
    const int* row_slots = slots + from;
    const float* ql = q_lat + (size_t) t * q_lat_stride + (size_t) h * kv_rank;
    const float* qp = q_pe + (size_t) t * qpe_row_stride + (size_t) h * qpe_head_stride;
    float* acc = sm + width;         // kv_rank
    float* qs = sm;                  // width
    float* ps = acc + kv_rank;       // blockDim.x
    for (int i = tid; i < width; i += blockDim.x) qs[i] = i < kv_rank ? ql[i] : qp[i - kv_rank];
    for (int d = tid; d < kv_rank; d += blockDim.x) acc[d] = 0.f;
    __syncthreads();
    float m = -INFINITY, l = 0.f;
    for (int s0 = 0; s0 < count; s0 += blockDim.x) {
        int s = s0 + tid;
        float sc = -INFINITY;
        if (s < count) {
            const float* row = slab + (size_t) row_slots[s] * slab_stride;
            float d = 0.f;
            for (int i = 0; i < width; i++) d = fmaf(qs[i], row[i], d);
            sc = d * scale;
        }
        float mn = fmaxf(m, pg_block_max(sc, scratch));
        float corr = __expf(m - mn);  // m = -inf on the first chunk gives 0
        float p = s < count ? __expf(sc - mn) : 0.f;
        ps[tid] = p;
        l = l * corr + pg_block_sum(p, scratch);  // its barriers also publish ps
        int cnt = min((int) blockDim.x, count - s0);
        for (int d = tid; d < kv_rank; d += blockDim.x) {
            float a = acc[d] * corr;
            for (int r = 0; r < cnt; r++) a = fmaf(ps[r], slab[(size_t) row_slots[s0 + r] * slab_stride + d], a);
            acc[d] = a;
        }
        m = mn;
        __syncthreads();
    }
    float inv = l > 0.f ? 1.f / l : 0.f;
    float* o = out_lat + (size_t) t * out_stride + (size_t) h * kv_rank;
    for (int d = tid; d < kv_rank; d += blockDim.x) o[d] = acc[d] * inv;
}
