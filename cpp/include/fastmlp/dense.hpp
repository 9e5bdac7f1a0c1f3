// One fully connected layer, z = x W + b, over parameters that live in the network's flat vector.
// Products go to BLAS when one is loaded (blas.hpp), else to Eigen.
#pragma once

#include <algorithm>

#include "fastmlp/blas.hpp"
#include "fastmlp/types.hpp"

#ifdef FASTMLP_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastmlp {

// Whether product() splits columns over OpenMP's threads (true) or leaves threading to BLAS.
inline bool& split_products() {
  static thread_local bool split = true;
  return split;
}

// C = op(A) op(B) through BLAS (false if none is loaded). With more than one thread for the step
// (Eigen::nbThreads(), set per batch size by the network), the columns of C are split over the
// OpenMP threads, each calling a single-threaded BLAS: one pool of threads for all the work, not
// OpenMP's and BLAS's fighting for the same cores. Each element of C is the same sum either way.
template <typename Scalar>
bool product(bool trans_a, bool trans_b, Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b,
             Index ldb, Scalar* c, Index ldc) {
  if (!blas::available()) return false;
#ifdef FASTMLP_HAVE_OPENMP
  const int threads = Eigen::nbThreads();
  if (threads > 1 && split_products() && n >= 32 * threads) {
#pragma omp parallel num_threads(threads)
    {
      const auto [begin, end] = part_of(n, omp_get_num_threads(), omp_get_thread_num());
      if (end > begin) {
        blas::set_threads(1);
        blas::gemm(trans_a, trans_b, m, end - begin, k, a, lda, trans_b ? b + begin * ldb : b + begin, ldb,
                   c + begin, ldc);
      }
    }
    return true;
  }
#endif
  return blas::gemm(trans_a, trans_b, m, n, k, a, lda, b, ldb, c, ldc);
}

// Products of at most this many multiply-adds (the playground's 10 x 8 x 8) are computed in place
// by Eigen, coefficient by coefficient: a BLAS call costs more than the arithmetic.
constexpr Index kTinyProduct = 4096;
inline bool tiny(Index m, Index n, Index k) { return m * n * k <= kTinyProduct; }

// z = x W + b
//   x: (batch, in)   W: (in, out)   b: (out,) or null   z: (batch, out)
template <typename Scalar>
void dense_forward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const Scalar* b,
                   MatMap<Scalar> z) {
  if (tiny(x.rows(), w.cols(), x.cols()))
    z.noalias() = x.lazyProduct(w);
  else if (!product<Scalar>(false, false, x.rows(), w.cols(), x.cols(), x.data(), x.cols(), w.data(), w.cols(),
                            z.data(), z.cols()))
    z.noalias() = x * w;
  if (b) z.rowwise() += Eigen::Map<const RowVec<Scalar>>(b, w.cols());
}

// Given gz = dL/dz (batch, out):
//   dW = x^T gz (in, out),  db = sum over the batch of gz (out,),  dx = gz W^T (batch, in).
// db and dx may be null (no bias; first layer, whose input needs no gradient).
template <typename Scalar>
void dense_backward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const MatMap<Scalar>& gz,
                    MatMap<Scalar> dw, Scalar* db, Scalar* dx) {
  const Index n = x.rows(), in = x.cols(), out = w.cols();
  if (tiny(in, out, n))
    dw.noalias() = x.transpose().lazyProduct(gz);
  else if (!product<Scalar>(true, false, in, out, n, x.data(), in, gz.data(), out, dw.data(), out))
    dw.noalias() = x.transpose() * gz;
  if (db) Eigen::Map<RowVec<Scalar>>(db, out).noalias() = gz.colwise().sum();
  if (!dx) return;
  if (tiny(n, in, out))
    MatMap<Scalar>(dx, n, in).noalias() = gz.lazyProduct(w.transpose());
  else if (!product<Scalar>(false, true, n, in, out, gz.data(), out, w.data(), out, dx, in))
    MatMap<Scalar>(dx, n, in).noalias() = gz * w.transpose();
}

}  // namespace fastmlp
