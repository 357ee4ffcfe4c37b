// The one translation unit nvcc compiles into io/peregrine/kernels/sm_90a/peregrine.cubin (+ a compute_90 .ptx).
// Every kernel is extern "C" so the host finds it by its plain name (KernelName on the Java side).
#include "common.cuh"
#include "elementwise.cuh"
#include "bf16_products.cuh"
#include "mma_gemm.cuh"
#include "wgmma_gemm.cuh"
#include "int4_moe.cuh"
#include "mla.cuh"
#include "mla_mma.cuh"
#include "attention_f32.cuh"
#include "sampling.cuh"
#include "fill.cuh"
#include "rows.cuh"
