// kernels/cuda/rounded.cuh — arithmetic rounded exactly where the CPU code rounds.
//
// nvcc contracts a·b + c into one FMA wherever it can; natgrad's CPU build does not (-ffp-contract=off), so a
// kernel that must store the CPU's bits writes every separately rounded product, sum, quotient and square
// root with these _rn intrinsics (never contracted) and every fused one as an explicit fma.
#pragma once
#include <cuda_runtime.h>

namespace ng::kernels::cuda {

__device__ __forceinline__ float mul(float a, float b) { return __fmul_rn(a, b); }
__device__ __forceinline__ double mul(double a, double b) { return __dmul_rn(a, b); }
__device__ __forceinline__ float add(float a, float b) { return __fadd_rn(a, b); }
__device__ __forceinline__ double add(double a, double b) { return __dadd_rn(a, b); }
__device__ __forceinline__ float sub(float a, float b) { return __fsub_rn(a, b); }
__device__ __forceinline__ double sub(double a, double b) { return __dsub_rn(a, b); }
__device__ __forceinline__ float quot(float a, float b) { return __fdiv_rn(a, b); }
__device__ __forceinline__ double quot(double a, double b) { return __ddiv_rn(a, b); }
__device__ __forceinline__ float root(float a) { return __fsqrt_rn(a); }
__device__ __forceinline__ double root(double a) { return __dsqrt_rn(a); }
__device__ __forceinline__ float fused(float a, float b, float c) { return __fmaf_rn(a, b, c); }
__device__ __forceinline__ double fused(double a, double b, double c) { return __fma_rn(a, b, c); }

}  // namespace ng::kernels::cuda
