// Row moves and strided element-wise ops over the engine's backend-owned tensors (views with a row stride).
// One block per row; threads stride the columns.
#pragma once

// dst[i] = src[rows[i]]
extern "C" __global__ void pg_gather_rows(const float* __restrict__ src, int src_stride, const int* __restrict__ rows,
                                          float* __restrict__ dst, int dst_stride, int cols) {
    const float* s = src + (size_t) rows[blockIdx.x] * src_stride;
    float* d = dst + (size_t) blockIdx.x * dst_stride;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

// dst[rows[i]] = src[i] (the latent cache write; rows are distinct)
extern "C" __global__ void pg_scatter_rows(const float* __restrict__ src, int src_stride, const int* __restrict__ rows,
                                           float* __restrict__ dst, int dst_stride, int cols) {
    const float* s = src + (size_t) blockIdx.x * src_stride;
    float* d = dst + (size_t) rows[blockIdx.x] * dst_stride;
    for (int c = threadIdx.x; c < cols; c += blockDim.x) d[c] = s[c];
}

// dst[rows[i]] += scale[i] * src[i] for i = 0 .. n-1 in order (rows may repeat: the MoE combine). One thread per
// column walks every i, so each element's sum has one fixed order.
extern "C" __global__ void pg_scatter_add_scaled(const float* __restrict__ src, int src_stride,
                                                 const int* __restrict__ rows, const float* __restrict__ scale, int n,
                                                 float* __restrict__ dst, int dst_stride, int cols) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    for (int i = 0; i < n; i++) {
        float* d = dst + (size_t) rows[i] * dst_stride + c;
        *d = fmaf(scale[i], src[(size_t) i * src_stride + c], *d);
    }
}

// out[t][i] = silu(gate[t][i]) * up[t][i], each a strided view
extern "C" __global__ void pg_silu_mul_rows(const float* __restrict__ gate, int g_stride, const float* __restrict__ up,
                                            int u_stride, float* __restrict__ out, int o_stride, int cols) {
    size_t t = blockIdx.x;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) {
        float g = gate[t * g_stride + i];
        out[t * o_stride + i] = g / (1.f + __expf(-g)) * up[t * u_stride + i];
    }
}

// y[t][i] += x[t][i], each a strided view
extern "C" __global__ void pg_add_rows(const float* __restrict__ x, int x_stride, float* __restrict__ y, int y_stride,
                                       int cols) {
    size_t t = blockIdx.x;
    for (int i = threadIdx.x; i < cols; i += blockDim.x) y[t * y_stride + i] += x[t * x_stride + i];
}
