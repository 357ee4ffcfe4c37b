// The vision tower's kernels (MoonViT-3D, issue 24): LayerNorm with bias, bias add, GELU (tanh / erf), rotation of
// interleaved pairs by per-row cos/sin tables (the 2-D RoPE), and bidirectional attention inside segments
// (cu_seqlens: one segment per image or video chunk). Everything fp32 over strided row views; one block per row
// for the row-wise ones.
#pragma once
#include "common.cuh"

// out = (x - mean) / sqrt(var + eps) * weight + bias, biased variance of the centred values (nn.LayerNorm).
// x and out may be the same rows: each thread reads an element before it writes it.
extern "C" __global__ void pg_layer_norm(const float* x, int x_stride, const float* __restrict__ weight,
                                         const float* __restrict__ bias, float* out, int out_stride, int dim,
                                         float eps) {
    __shared__ float scratch[32];
    const float* xr = x + (size_t) blockIdx.x * x_stride;
    float* orow = out + (size_t) blockIdx.x * out_stride;
    float s = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) s += xr[i];
    float mean = pg_block_sum(s, scratch) / (float) dim;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) {
        float d = xr[i] - mean;
        ss = fmaf(d, d, ss);
    }
    float var = pg_block_sum(ss, scratch) / (float) dim;
    float inv = rsqrtf(var + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = (xr[i] - mean) * inv * weight[i] + bias[i];
}

// y[t] += bias (a linear layer's bias), y a strided view; grid = rows.
extern "C" __global__ void pg_add_bias_rows(const float* __restrict__ bias, float* __restrict__ y, int y_stride,
                                            int cols) {
    float* r = y + (size_t) blockIdx.x * y_stride;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) r[i] += bias[i];
}

// out = gelu(x): form 0 the tanh approximation (PyTorch approximate="tanh"), form 1 the exact erf form.
// x and out may be the same rows. grid = rows.
extern "C" __global__ void pg_gelu_rows(const float* x, int x_stride, float* out, int out_stride, int cols, int form) {
    const float* xr = x + (size_t) blockIdx.x * x_stride;
    float* orow = out + (size_t) blockIdx.x * out_stride;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
        float v = xr[i];
        if (form == 0) {
            float cube = v * v * v;
            orow[i] = 0.5f * v * (1.f + tanhf(0.7978845608028654f * (v + 0.044715f * cube)));
        } else {
            orow[i] = 0.5f * v * (1.f + erff(v * 0.7071067811865476f));
        }
    }
}

// Pairs (x[c + 2i], x[c + 2i + 1]), c = h * head_stride, of row t times cos[t][i] + j sin[t][i]; grid = rows.
extern "C" __global__ void pg_rotate_pairs(float* __restrict__ x, int x_stride, int heads, int head_stride,
                                           const float* __restrict__ cos_t, int cos_stride,
                                           const float* __restrict__ sin_t, int sin_stride, int pairs) {
    size_t t = blockIdx.x;
    for (int j = threadIdx.x; j < heads * pairs; j += blockDim.x) {
        int h = j / pairs, i = j % pairs;
        float c = cos_t[t * cos_stride + i];
        float s = sin_t[t * sin_stride + i];
        float* p = x + t * x_stride + (size_t) h * head_stride + 2 * i;
        float a = p[0], b = p[1];
        p[0] = a * c - b * s;
        p[1] = a * s + b * c;
    }
}

#define PG_SEG_BQ 64  // queries per block, one per thread
#define PG_SEG_BK 32  // keys per shared tile

// grid = (ceil(longest segment / PG_SEG_BQ), heads, segments), PG_SEG_BQ threads. Thread i of block (b, h, s) owns
// query row segments[s] + b * PG_SEG_BQ + i of head h and walks the keys of its own segment a tile at a time with an
// online softmax (fp32 scores = dot * scale, expf). Tiles start at the segment's first row, so a row's result does
// not depend on the segments around it. q, k, v, out: rows of heads * HD values, each with its own row stride.
template <int HD>
__device__ __forceinline__ void pg_attention_segments_body(const float* __restrict__ q, int q_stride,
                                                           const float* __restrict__ k, int k_stride,
                                                           const float* __restrict__ v, int v_stride,
                                                           const int* __restrict__ segments, float scale,
                                                           float* __restrict__ out, int out_stride) {
    __shared__ float Ks[PG_SEG_BK][HD];
    __shared__ float Vs[PG_SEG_BK][HD];
    const int s = blockIdx.z, h = blockIdx.y, tid = threadIdx.x;
    const int from = segments[s], len = segments[s + 1] - from;
    const int q0 = blockIdx.x * PG_SEG_BQ;
    if (q0 >= len) return;  // the whole block: segments shorter than the longest
    const int t = q0 + tid;
    const bool active = t < len;
    float qr[HD], acc[HD];
    const float* qrow = q + (size_t) (from + (active ? t : 0)) * q_stride + h * HD;
#pragma unroll
    for (int d = 0; d < HD; d++) {
        qr[d] = active ? qrow[d] : 0.f;
        acc[d] = 0.f;
    }
    float m = -INFINITY, l = 0.f;
    for (int j0 = 0; j0 < len; j0 += PG_SEG_BK) {
        const int nk = min(PG_SEG_BK, len - j0);
        __syncthreads();
        for (int i = tid; i < PG_SEG_BK * HD; i += blockDim.x) {
            int j = i / HD, d = i % HD;
            float kv = 0.f, vv = 0.f;
            if (j < nk) {
                size_t r = (size_t) (from + j0 + j);
                kv = k[r * k_stride + h * HD + d];
                vv = v[r * v_stride + h * HD + d];
            }
            Ks[j][d] = kv;
            Vs[j][d] = vv;
        }
        __syncthreads();
        float sc[PG_SEG_BK];
        float tmax = -INFINITY;
#pragma unroll
        for (int j = 0; j < PG_SEG_BK; j++) {
            float dot = 0.f;
#pragma unroll
            for (int d = 0; d < HD; d++) dot = fmaf(qr[d], Ks[j][d], dot);
            sc[j] = j < nk ? dot * scale : -INFINITY;
            tmax = fmaxf(tmax, sc[j]);
        }
        const float mNew = fmaxf(m, tmax);
        const float corr = expf(m - mNew);  // 0 on the first tile (m = -inf)
        l *= corr;
#pragma unroll
        for (int d = 0; d < HD; d++) acc[d] *= corr;
#pragma unroll
        for (int j = 0; j < PG_SEG_BK; j++) {
            float p = expf(sc[j] - mNew);  // 0 past the segment's end
            l += p;
#pragma unroll
            for (int d = 0; d < HD; d++) acc[d] = fmaf(p, Vs[j][d], acc[d]);
        }
        m = mNew;
    }
    if (active) {
        float inv = 1.f / l;
        float* o = out + (size_t) (from + t) * out_stride + h * HD;
#pragma unroll
        for (int d = 0; d < HD; d++) o[d] = acc[d] * inv;
    }
}

// One instantiation per head size in use: 16 (the tiny golden model), 72 (K2.5's MoonViT: 1152 / 16 heads).
extern "C" __global__ void __launch_bounds__(PG_SEG_BQ) pg_attention_segments_d16(
        const float* __restrict__ q, int q_stride, const float* __restrict__ k, int k_stride,
        const float* __restrict__ v, int v_stride, const int* __restrict__ segments, float scale,
        float* __restrict__ out, int out_stride) {
    pg_attention_segments_body<16>(q, q_stride, k, k_stride, v, v_stride, segments, scale, out, out_stride);
}

extern "C" __global__ void __launch_bounds__(PG_SEG_BQ) pg_attention_segments_d72(
        const float* __restrict__ q, int q_stride, const float* __restrict__ k, int k_stride,
        const float* __restrict__ v, int v_stride, const int* __restrict__ segments, float scale,
        float* __restrict__ out, int out_stride) {
    pg_attention_segments_body<72>(q, q_stride, k, k_stride, v, v_stride, segments, scale, out, out_stride);
}
