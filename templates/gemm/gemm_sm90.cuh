// SPDX-License-Identifier: Apache-2.0
// Hopper GEMM (sm_90a only): wgmma + TMA, warp-specialised. One producer warpgroup issues TMA
// tile loads (128-byte swizzle, zero fill outside the matrix) into a kStages-deep ring of
// shared-memory stages guarded by mbarriers (full: TMA bytes landed; empty: both consumers are
// done with the stage); two consumer warpgroups each multiply 64 rows of the 128-row block tile
// by the whole BN-column B tile with wgmma.m64nBNk16 (f32 accumulators in registers), then stage
// alpha * acc through shared memory into the same fused epilogue as the mma.sync kernel
// (gemm/epilogue.cuh). setmaxnreg moves registers from the producer to the consumers.
//
// Contract
//   template parameters:
//     TIn        __half or __nv_bfloat16 (f32 accumulation)
//     TOut       __half, __nv_bfloat16 or float
//     BN         64, 128 or 256 (block tile is 128 x BN x 64)
//     kStages    pipeline depth (stage = (128 + BN) * 64 * 2 bytes)
//     kAKMajor   true: A stored (M, K); false: (K, M) (wgmma reads it M-major)
//     kBKMajor   true: B stored (N, K); false: (K, N) (wgmma reads it N-major)
//     Epi        Epilogue<Activation, BiasMode, kC, kResidual>
//   kernel parameters: GemmParams (by value), then the TMA maps of A and B (TmaDescriptor,
//     by value), made on the host with cuTensorMapEncodeTiled: 3-D (inner, outer, batch), box
//     {64, 128 or 64 or BN, 1}, SWIZZLE_128B (see jit/kernels/gemm.cpp)
//   block shape: 384 threads (3 warpgroups: producer, 2 consumers)
//   grid:        x = tiles_m * tiles_n (rasterised like the mma.sync kernel), z = batch_count
//                (<= 65535; at most one batch dim, each operand either batched or broadcast)
//   shared:      kStages * (128 + BN) * 128 + 16 * kStages + 1024 bytes (stages 1024-aligned)
//   alignment:   lda, ldb, batch strides: multiples of 8 elements; A, B 16-byte aligned
//   name expression:
//     rtx::kernels::gemm::gemm_wgmma<__half, __half, 256, 4, true, false,
//       rtx::kernels::gemm::Epilogue<(rtx::kernels::gemm::Activation)0,
//       (rtx::kernels::gemm::BiasMode)0, false, false>>
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "gemm/epilogue.cuh"
#include "gemm/mma_core.cuh"
#include "gemm/params.cuh"
#include "rtx/config.hpp"

namespace rtx::kernels::gemm {
namespace sm90 {

// ---- mbarrier, TMA and wgmma wrappers -----------------------------------------------------------

__device__ __forceinline__ void mbar_init(unsigned bar, unsigned count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count));
}
__device__ __forceinline__ void mbar_expect_tx(unsigned bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
__device__ __forceinline__ void mbar_arrive(unsigned bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
__device__ __forceinline__ void mbar_wait(unsigned bar, unsigned parity) {
  asm volatile(
      "{\n"
      ".reg .pred P1;\n"
      "LAB_WAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 P1, [%0], %1;\n"
      "@P1 bra DONE;\n"
      "bra LAB_WAIT;\n"
      "DONE:\n"
      "}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
/// TMA: box at coordinates (c0 innermost, c1, c2) of `map` -> shared `dst`, completing on `bar`.
__device__ __forceinline__ void tma_load_3d(unsigned dst, const TmaDescriptor* map, unsigned bar,
                                            int c0, int c1, int c2) {
  asm volatile(
      "cp.async.bulk.tensor.3d.shared::cluster.global.mbarrier::complete_tx::bytes"
      " [%0], [%1, {%3, %4, %5}], [%2];\n" ::"r"(dst),
      "l"(reinterpret_cast<unsigned long long>(map)), "r"(bar), "r"(c0), "r"(c1), "r"(c2)
      : "memory");
}
__device__ __forceinline__ void wgmma_fence() {
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
}
__device__ __forceinline__ void wgmma_commit() {
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
}
template <int kPending>
__device__ __forceinline__ void wgmma_wait() {
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(kPending) : "memory");
}
/// Keeps the compiler from moving accumulator accesses across wgmma fences and waits.
template <int kN>
__device__ __forceinline__ void fence_operands(float (&d)[kN]) {
#pragma unroll
  for (int i = 0; i < kN; ++i) asm volatile("" : "+f"(d[i])::"memory");
}

/// Shared-memory matrix descriptor, 128-byte swizzle: `lbo` = byte stride between 64-element
/// column blocks along M/N (MN-major operands), `sbo` = byte stride between 8-row groups.
__device__ __forceinline__ unsigned long long make_desc(unsigned addr, unsigned lbo,
                                                        unsigned sbo) {
  return static_cast<unsigned long long>((addr & 0x3FFFF) >> 4) |
         (static_cast<unsigned long long>((lbo & 0x3FFFF) >> 4) << 16) |
         (static_cast<unsigned long long>((sbo & 0x3FFFF) >> 4) << 32) | (1ull << 62);
}

/// wgmma.m64nNk16 with both operands in shared memory; d (N / 2 floats per thread) += A * B.
template <class T, int kN>
struct Wgmma;

template <>
struct Wgmma<__half, 64> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[32], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, %35, %36;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

template <>
struct Wgmma<__nv_bfloat16, 64> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[32], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.bf16.bf16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31"
        "}, %32, %33, p, 1, 1, %35, %36;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

template <>
struct Wgmma<__half, 128> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[64], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
        "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "
        "%60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, %67, %68;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),
          "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
          "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),
          "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
          "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

template <>
struct Wgmma<__nv_bfloat16, 128> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[64], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
        "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "
        "%60, %61, %62, %63"
        "}, %64, %65, p, 1, 1, %67, %68;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),
          "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
          "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),
          "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
          "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

template <>
struct Wgmma<__half, 256> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[128], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.f16.f16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
        "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "
        "%60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, "
        "%72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, "
        "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, "
        "%108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, "
        "%120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1, %131, %132;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),
          "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
          "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),
          "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
          "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]),
          "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]),
          "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]),
          "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]),
          "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]),
          "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]),
          "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]),
          "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]),
          "+f"(d[126]), "+f"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

template <>
struct Wgmma<__nv_bfloat16, 256> {
  template <int kTransA, int kTransB>
  __device__ __forceinline__ static void run(float (&d)[128], unsigned long long desc_a,
                                             unsigned long long desc_b, int scale_d) {
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %130, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n256k16.f32.bf16.bf16 "
        "{"
        "%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, "
        "%12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, "
        "%24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, "
        "%36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, "
        "%48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, "
        "%60, %61, %62, %63, %64, %65, %66, %67, %68, %69, %70, %71, "
        "%72, %73, %74, %75, %76, %77, %78, %79, %80, %81, %82, %83, "
        "%84, %85, %86, %87, %88, %89, %90, %91, %92, %93, %94, %95, "
        "%96, %97, %98, %99, %100, %101, %102, %103, %104, %105, %106, %107, "
        "%108, %109, %110, %111, %112, %113, %114, %115, %116, %117, %118, %119, "
        "%120, %121, %122, %123, %124, %125, %126, %127"
        "}, %128, %129, p, 1, 1, %131, %132;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]),
          "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]),
          "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]),
          "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]),
          "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]),
          "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]),
          "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]),
          "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]),
          "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]),
          "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]),
          "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63]), "+f"(d[64]), "+f"(d[65]),
          "+f"(d[66]), "+f"(d[67]), "+f"(d[68]), "+f"(d[69]), "+f"(d[70]), "+f"(d[71]),
          "+f"(d[72]), "+f"(d[73]), "+f"(d[74]), "+f"(d[75]), "+f"(d[76]), "+f"(d[77]),
          "+f"(d[78]), "+f"(d[79]), "+f"(d[80]), "+f"(d[81]), "+f"(d[82]), "+f"(d[83]),
          "+f"(d[84]), "+f"(d[85]), "+f"(d[86]), "+f"(d[87]), "+f"(d[88]), "+f"(d[89]),
          "+f"(d[90]), "+f"(d[91]), "+f"(d[92]), "+f"(d[93]), "+f"(d[94]), "+f"(d[95]),
          "+f"(d[96]), "+f"(d[97]), "+f"(d[98]), "+f"(d[99]), "+f"(d[100]), "+f"(d[101]),
          "+f"(d[102]), "+f"(d[103]), "+f"(d[104]), "+f"(d[105]), "+f"(d[106]), "+f"(d[107]),
          "+f"(d[108]), "+f"(d[109]), "+f"(d[110]), "+f"(d[111]), "+f"(d[112]), "+f"(d[113]),
          "+f"(d[114]), "+f"(d[115]), "+f"(d[116]), "+f"(d[117]), "+f"(d[118]), "+f"(d[119]),
          "+f"(d[120]), "+f"(d[121]), "+f"(d[122]), "+f"(d[123]), "+f"(d[124]), "+f"(d[125]),
          "+f"(d[126]), "+f"(d[127])
        : "l"(desc_a), "l"(desc_b), "r"(scale_d), "n"(kTransA), "n"(kTransB));
  }
};

}  // namespace sm90

template <class TIn, class TOut, int BN, int kStages, bool kAKMajor, bool kBKMajor, class Epi>
__global__ void __launch_bounds__(384, 1)
    gemm_wgmma(const __grid_constant__ GemmParams p, const __grid_constant__ TmaDescriptor tma_a,
               const __grid_constant__ TmaDescriptor tma_b) {
  using namespace sm90;
  static_assert(sizeof(TIn) == 2, "rtx: the wgmma kernel takes f16 or bf16 inputs");
  static_assert(BN == 64 || BN == 128 || BN == 256, "rtx: BN is 64, 128 or 256");
  constexpr int BM = 128, BK = 64;
  constexpr int kStageA = BM * BK * 2;
  constexpr int kStageB = BN * BK * 2;
  constexpr int kBlock = 64 * BK * 2;  // one 64-wide MN column block of an MN-major tile
  constexpr int kLd = BN + 8;          // f32 staging row stride of the epilogue
  constexpr int kAcc = BN / 2;
  static_assert(BM * kLd * 4 <= kStages * (kStageA + kStageB), "staging must fit the stages");

  extern __shared__ __align__(1024) unsigned char smem_raw[];
  const unsigned raw = smem_u32(smem_raw);
  const unsigned base = (raw + 1023u) & ~1023u;  // 128-byte swizzle atoms need 1024 alignment
  const unsigned smem_a = base;
  const unsigned smem_b = base + kStages * kStageA;
  const unsigned full = smem_b + kStages * kStageB;  // kStages barriers, then kStages "empty"
  const unsigned empty = full + 8 * kStages;

  int tile_m, tile_n;
  raster_tile(static_cast<int>(blockIdx.x), p.tiles_m, p.tiles_n, p.group_m, tile_m, tile_n);
  const int m0 = tile_m * BM;
  const int n0 = tile_n * BN;
  const int z = static_cast<int>(blockIdx.z);
  const int ktiles = static_cast<int>((p.k + BK - 1) / BK);
  const int warpgroup = static_cast<int>(threadIdx.x) / 128;

  if (threadIdx.x == 0) {
#pragma unroll
    for (int s = 0; s < kStages; ++s) {
      mbar_init(full + 8 * s, 1);
      mbar_init(empty + 8 * s, 8);  // lane 0 of each consumer warp
    }
    asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
  }
  __syncthreads();

  if (warpgroup == 0) {
    asm volatile("setmaxnreg.dec.sync.aligned.u32 40;\n");
    if (threadIdx.x == 0) {
      const int za = p.batch_rank > 0 && p.a_batch_stride[0] != 0 ? z : 0;
      const int zb = p.batch_rank > 0 && p.b_batch_stride[0] != 0 ? z : 0;
      for (int kt = 0; kt < ktiles; ++kt) {
        const int s = kt % kStages;
        const int round = kt / kStages;
        if (round > 0) mbar_wait(empty + 8 * s, (round - 1) & 1);
        const unsigned bar = full + 8 * s;
        mbar_expect_tx(bar, kStageA + kStageB);
        const int k = kt * BK;
        const unsigned da = smem_a + s * kStageA;
        const unsigned db = smem_b + s * kStageB;
        if constexpr (kAKMajor) {
          tma_load_3d(da, &tma_a, bar, k, m0, za);
        } else {
#pragma unroll
          for (int j = 0; j < BM / 64; ++j)
            tma_load_3d(da + j * kBlock, &tma_a, bar, m0 + 64 * j, k, za);
        }
        if constexpr (kBKMajor) {
          tma_load_3d(db, &tma_b, bar, k, n0, zb);
        } else {
#pragma unroll
          for (int j = 0; j < BN / 64; ++j)
            tma_load_3d(db + j * kBlock, &tma_b, bar, n0 + 64 * j, k, zb);
        }
      }
    }
    return;
  }

  asm volatile("setmaxnreg.inc.sync.aligned.u32 232;\n");
  const int consumer = warpgroup - 1;  // rows 64 * consumer .. of the block tile
  const int tid = static_cast<int>(threadIdx.x) - 128;
  const int warp = (tid >> 5) & 3;
  const int lane = tid & 31;
  float d[kAcc];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) d[i] = 0.0f;

  for (int kt = 0; kt < ktiles; ++kt) {
    const int s = kt % kStages;
    mbar_wait(full + 8 * s, (kt / kStages) & 1);
    // A: K-major rows 64*consumer.. (64 rows x 128 B, 8-row groups 1024 B apart);
    //    M-major: column block `consumer` (one 64-wide block, 1024 B per 8 k-rows).
    const unsigned a_base = smem_a + s * kStageA + consumer * (kAKMajor ? 64 * 128 : kBlock);
    const unsigned b_base = smem_b + s * kStageB;
    const unsigned long long desc_a = make_desc(a_base, kAKMajor ? 16 : kBlock, 1024);
    const unsigned long long desc_b = make_desc(b_base, kBKMajor ? 16 : kBlock, 1024);
    wgmma_fence();
    fence_operands(d);
#pragma unroll
    for (int kk = 0; kk < BK / 16; ++kk) {
      // One k16 step: 32 bytes along a K-major row, or 16 rows (2048 B) of an MN-major tile.
      const unsigned long long step_a = (kAKMajor ? 32u : 2048u) * kk >> 4;
      const unsigned long long step_b = (kBKMajor ? 32u : 2048u) * kk >> 4;
      Wgmma<TIn, BN>::template run<kAKMajor ? 0 : 1, kBKMajor ? 0 : 1>(
          d, desc_a + step_a, desc_b + step_b, (kt > 0 || kk > 0) ? 1 : 0);
    }
    wgmma_commit();
    wgmma_wait<0>();
    fence_operands(d);
    if (lane == 0) mbar_arrive(empty + 8 * s);
  }

  // Epilogue: both consumers must be done reading the stages before they become staging.
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  float* tile = reinterpret_cast<float*>(smem_raw + (base - raw));
  {
    const int g = lane >> 2, t = lane & 3;
    const int row = consumer * 64 + warp * 16 + g;
#pragma unroll
    for (int j = 0; j < BN / 8; ++j) {
      const int col = j * 8 + 2 * t;
      *reinterpret_cast<float2*>(tile + row * kLd + col) =
          make_float2(p.alpha * d[4 * j], p.alpha * d[4 * j + 1]);
      *reinterpret_cast<float2*>(tile + (row + 8) * kLd + col) =
          make_float2(p.alpha * d[4 * j + 2], p.alpha * d[4 * j + 3]);
    }
  }
  asm volatile("bar.sync 1, 256;\n" ::: "memory");
  const BatchOffsets off = batch_offsets(p, z);
  store_tile<TIn, TOut, Epi, BM, BN, 256, kLd>(tile, p, off, m0, n0, tid);
}

}  // namespace rtx::kernels::gemm
