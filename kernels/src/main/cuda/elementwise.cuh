// Row-wise and element-wise kernels of a layer: RMSNorm, YaRN RoPE (interleaved pairs), SwiGLU, embedding gather.
#pragma once
#include "common.cuh"

// One block per row: out = weight * x / sqrt(mean(x^2) + eps), statistics in fp32.
extern "C" __global__ void pg_rms_norm(const float* __restrict__ x, int x_stride, const float* __restrict__ weight,
                                       float* __restrict__ out, int out_stride, int dim, float eps) {
    __shared__ float scratch[32];
    const float* xr = x + (size_t) blockIdx.x * x_stride;
    float* orow = out + (size_t) blockIdx.x * out_stride;
    float ss = 0.f;
    for (int i = threadIdx.x; i < dim; i += blockDim.x) ss = fmaf(xr[i], xr[i], ss);
    float total = pg_block_sum(ss, scratch);
    float inv = rsqrtf(total / (float) dim + eps);
    for (int i = threadIdx.x; i < dim; i += blockDim.x) orow[i] = weight[i] * (xr[i] * inv);
}

// Rotates 'pairs' interleaved pairs of every (token, head): x[t*tok_stride + h*head_stride + off + 2i, +1]
// by angle pos[t]*inv_freq[i] (fp32), cos and sin scaled by mscale. grid = tokens, block covers heads*pairs.
extern "C" __global__ void pg_rope_interleaved(float* __restrict__ x, int tok_stride, int heads, int head_stride,
                                               int off, const int* __restrict__ pos,
                                               const float* __restrict__ inv_freq, int pairs, float mscale) {
    int t = blockIdx.x;
    float p = (float) pos[t];
    for (int j = threadIdx.x; j < heads * pairs; j += blockDim.x) {
        int h = j / pairs, i = j % pairs;
        float ang = p * inv_freq[i];
        float s, c;
        sincosf(ang, &s, &c);
        c *= mscale;
        s *= mscale;
        float* v = x + (size_t) t * tok_stride + (size_t) h * head_stride + off + 2 * i;
        float a = v[0], b = v[1];
        v[0] = a * c - b * s;
        v[1] = a * s + b * c;
    }
}

// out[t][i] = silu(gu[t][i]) * gu[t][inter + i]: the fused gate||up product's halves (rows of width 2*inter).
extern "C" __global__ void pg_silu_mul(const float* __restrict__ gu, float* __restrict__ out, int rows, int inter) {
    size_t n = (size_t) rows * inter;
    for (size_t k = (size_t) blockIdx.x * blockDim.x + threadIdx.x; k < n; k += (size_t) gridDim.x * blockDim.x) {
        size_t r = k / inter, i = k % inter;
        float g = gu[r * 2 * inter + i];
        float u = gu[r * 2 * inter + inter + i];
        out[k] = g / (1.f + __expf(-g)) * u;
    }
}

// out[t] = float(table[ids[t]]) for a BF16 table [vocab, dim]; 16-byte loads (dim % 8 == 0). grid = tokens.
extern "C" __global__ void pg_embedding_gather(const int* __restrict__ ids, const uint16_t* __restrict__ table,
                                               int vocab, int dim, float* __restrict__ out) {
    int id = ids[blockIdx.x];
    float* o = out + (size_t) blockIdx.x * dim;
    if (id < 0 || id >= vocab) {  // an out-of-range id poisons its row so the host check sees it
        for (int i = threadIdx.x; i < dim; i += blockDim.x) o[i] = __int_as_float(0x7fc00000);
        return;
    }
    const uint4* row = reinterpret_cast<const uint4*>(table + (size_t) id * dim);
    for (int v = threadIdx.x; v < dim / 8; v += blockDim.x) {
        uint4 q = row[v];
        float4 a = make_float4(pg_bf16_lo(q.x), pg_bf16_hi(q.x), pg_bf16_lo(q.y), pg_bf16_hi(q.y));
        float4 b = make_float4(pg_bf16_lo(q.z), pg_bf16_hi(q.z), pg_bf16_lo(q.w), pg_bf16_hi(q.w));
        reinterpret_cast<float4*>(o)[2 * v] = a;
        reinterpret_cast<float4*>(o)[2 * v + 1] = b;
    }
}

// y[t] += a * x[t] element-wise (residual adds).
extern "C" __global__ void pg_axpy(float a, const float* __restrict__ x, float* __restrict__ y, int n) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) y[i] = fmaf(a, x[i], y[i]);
}
