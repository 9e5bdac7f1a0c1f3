// Optional BLAS GEMM, found at run time (NumPy's own OpenBLAS, so no new dependency): its SGEMM
// runs about 1.5x faster than Eigen's on AVX2 machines. Without one, Eigen computes every product.
#pragma once

#include <cstdint>
#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {
namespace blas {

// Loads cblas_{s,d}gemm from the shared library at `path` (ILP64 "scipy_cblas_sgemm64_" or
// "cblas_sgemm64_" names first, then the LP64 "cblas_sgemm"). Returns a description of what was
// found, or throws std::runtime_error. An empty path unloads (Eigen only).
std::string load(const std::string& path);
bool available();
std::string description();

// Threads that BLAS may use in the calling thread (OpenBLAS's thread-local setting, when present).
void set_threads(int threads);

// C = op(A) op(B) for row-major, contiguous A, B, C; returns false if no BLAS is loaded.
//   op(A): (m, k), op(B): (k, n), C: (m, n); lda / ldb are the row lengths of A and B as stored.
bool gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, const float* a, Index lda, const float* b,
          Index ldb, float* c, Index ldc);
bool gemm(bool trans_a, bool trans_b, Index m, Index n, Index k, const double* a, Index lda, const double* b,
          Index ldb, double* c, Index ldc);

}  // namespace blas
}  // namespace fastmlp
