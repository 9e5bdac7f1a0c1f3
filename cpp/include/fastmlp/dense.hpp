// One fully connected layer, z = x W + b, over parameters that live in the network's flat vector.
// Products go to BLAS when one is loaded (blas.hpp), else to Eigen.
#pragma once

#include <algorithm>

#include "fastmlp/blas.hpp"
#include "fastmlp/types.hpp"

#ifdef FASTMLP_HAVE_OPENMP
#include <omp.h>
#endif

#if defined(__AVX2__) && defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))  // builtins below
#include <immintrin.h>
#define FASTMLP_HAVE_TINY_KERNELS 1
#endif

namespace fastmlp {

// Whether product() splits columns over OpenMP's threads (true) or leaves threading to BLAS.
inline bool& split_products() {
  static thread_local bool split = true;
  return split;
}

// C = op(A) op(B) through BLAS (false if none is loaded). With more than one thread for the step
// (step_threads(), set per batch size by the network), the columns of C are split over the
// OpenMP threads, each calling a single-threaded BLAS: one pool of threads for all the work, not
// OpenMP's and BLAS's fighting for the same cores. Each element of C is the same sum either way.
template <typename Scalar>
bool product(bool trans_a, bool trans_b, Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b,
             Index ldb, Scalar* c, Index ldc) {
  if (!blas::available()) return false;
#ifdef FASTMLP_HAVE_OPENMP
  const int threads = step_threads();
  if (threads > 1 && split_products() && n >= 32 * threads) {
#pragma omp parallel num_threads(threads)
    {
      FlushScope flush(omp_get_thread_num() != 0);
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

// Products of at most this many multiply-adds (the playground's 10 x 8 x 8) are computed in place:
// a BLAS call costs more than the arithmetic. With AVX2/FMA by tiny_gemm below (kTinyKernels),
// else by Eigen.
constexpr Index kTinyProduct = 4096;
#ifdef FASTMLP_HAVE_TINY_KERNELS
constexpr bool kTinyKernels = true;
#else
constexpr bool kTinyKernels = false;
#endif
inline bool tiny(Index m, Index n, Index k) { return m * n * k <= kTinyProduct; }

namespace detail {
#ifdef FASTMLP_HAVE_TINY_KERNELS
// One AVX register of Scalar: 8 floats or 4 doubles, and the operations the tiny products use.
template <typename Scalar>
struct Lanes;

template <>
struct Lanes<float> {
  using V = __m256;
  static constexpr Index kWidth = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V set1(float a) { return _mm256_set1_ps(a); }
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V load(const float* p, __m256i mask) { return _mm256_maskload_ps(p, mask); }
  static void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  // Lanes [0, w) on; w in [0, 8].
  static __m256i mask(Index w) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(w)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static float sum(V v) {
    const __m128 half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    const __m128 pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
    return _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)));
  }
};

template <>
struct Lanes<double> {
  using V = __m256d;
  static constexpr Index kWidth = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V set1(double a) { return _mm256_set1_pd(a); }
  static V load(const double* p) { return _mm256_loadu_pd(p); }
  static V load(const double* p, __m256i mask) { return _mm256_maskload_pd(p, mask); }
  static void store(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  // Lanes [0, w) on; w in [0, 4].
  static __m256i mask(Index w) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(w)), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static double sum(V v) {
    const __m128d half = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)));
  }
};

// Columns [0, w) of C (m x w, w <= the register's width; Full: w == it) = start + sum over p of
// A(r, p) B[p, :]. Four rows at a time: four independent sums (each a chain of k dependent FMAs),
// each row of B loaded once for the four.
template <typename Scalar, bool Full>
inline void tiny_columns(Index m, Index k, const Scalar* a, Index ars, Index aps, const Scalar* b, Index ldb,
                         typename Lanes<Scalar>::V start, __m256i mask, Index w, Scalar* c, Index ldc) {
  using L = Lanes<Scalar>;
  using V = typename L::V;
  auto load = [&](Index p) {
    if constexpr (Full) return L::load(b + p * ldb);
    else return L::load(b + p * ldb, mask);
  };
  auto store = [&](Index r, V acc) {
    if constexpr (Full) {
      L::store(c + r * ldc, acc);
    } else {
      alignas(32) Scalar row[L::kWidth];
      L::store(row, acc);
      std::copy(row, row + w, c + r * ldc);
    }
  };
  Index r = 0;
  for (; r + 4 <= m; r += 4) {
    const Scalar* ar = a + r * ars;
    V acc0 = start, acc1 = start, acc2 = start, acc3 = start;
    for (Index p = 0; p < k; ++p) {
      const V bp = load(p);
      const Scalar* ap = ar + p * aps;
      acc0 = L::fma(L::set1(ap[0]), bp, acc0);
      acc1 = L::fma(L::set1(ap[ars]), bp, acc1);
      acc2 = L::fma(L::set1(ap[2 * ars]), bp, acc2);
      acc3 = L::fma(L::set1(ap[3 * ars]), bp, acc3);
    }
    store(r, acc0);
    store(r + 1, acc1);
    store(r + 2, acc2);
    store(r + 3, acc3);
  }
  for (; r < m; ++r) {
    const Scalar* ar = a + r * ars;
    V acc = start;
    for (Index p = 0; p < k; ++p) acc = L::fma(L::set1(ar[p * aps]), load(p), acc);
    store(r, acc);
  }
}

// C (m x n) = init + sum over p of A(r, p) B[p, :], with A(r, p) = a[r * ars + p * aps] (any
// layout: a transpose is a choice of strides), B's rows ldb apart, init a row added to every row
// of C (or null). Vectorised over C's columns, a register's width at a time (masked loads for
// the last few), each element summed over p in order from init; for a single column of C, dot
// products: a register's width of partial sums, added pairwise, then init. Eigen's
// coefficient-based product ran these tiny products as strided scalar dot products: 1.6-13x
// slower at the playground's sizes (10 rows: 8 -> 8 forward 116 vs 72 ns, 2 -> 8 334 vs 25 ns).
template <typename Scalar>
inline void tiny_gemm(Index m, Index n, Index k, const Scalar* a, Index ars, Index aps, const Scalar* b, Index ldb,
                      const Scalar* init, Scalar* c, Index ldc) {
  using L = Lanes<Scalar>;
  constexpr Index width = L::kWidth;
  if (n == 1 && aps == 1 && ldb == 1) {
    // One column of C from contiguous rows of A and a contiguous column of B: dot products.
    for (Index r = 0; r < m; ++r) {
      const Scalar* ar = a + r * ars;
      typename L::V acc = L::zero();
      for (Index p = 0; p < k; p += width) {
        const __m256i mask = L::mask(std::min(width, k - p));
        acc = L::fma(L::load(ar + p, mask), L::load(b + p, mask), acc);
      }
      c[r * ldc] = L::sum(acc) + (init ? init[0] : Scalar(0));
    }
    return;
  }
  for (Index j = 0; j < n; j += width) {
    const Index w = std::min(width, n - j);
    const __m256i mask = L::mask(w);
    const typename L::V start = init ? L::load(init + j, mask) : L::zero();
    if (w == width)
      tiny_columns<Scalar, true>(m, k, a, ars, aps, b + j, ldb, start, mask, w, c + j, ldc);
    else
      tiny_columns<Scalar, false>(m, k, a, ars, aps, b + j, ldb, start, mask, w, c + j, ldc);
  }
}
#endif
}  // namespace detail

// z = x W + b
//   x: (batch, in)   W: (in, out)   b: (out,) or null   z: (batch, out)
template <typename Scalar>
void dense_forward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const Scalar* b,
                   MatMap<Scalar> z) {
  const Index n = x.rows(), in = x.cols(), out = w.cols();
  if (tiny(n, out, in)) {
#ifdef FASTMLP_HAVE_TINY_KERNELS
    detail::tiny_gemm<Scalar>(n, out, in, x.data(), in, 1, w.data(), out, b, z.data(), out);
    return;
#else
    z.noalias() = x.lazyProduct(w);
#endif
  } else if (!product<Scalar>(false, false, n, out, in, x.data(), in, w.data(), out, z.data(), out)) {
    z.noalias() = x * w;
  }
  if (b) z.rowwise() += Eigen::Map<const RowVec<Scalar>>(b, out);
}

// Given gz = dL/dz (batch, out):
//   dW = x^T gz (in, out),  db = sum over the batch of gz (out,),  dx = gz W^T (batch, in).
// db and dx may be null (no bias; first layer, whose input needs no gradient).
template <typename Scalar>
void dense_backward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const MatMap<Scalar>& gz,
                    MatMap<Scalar> dw, Scalar* db, Scalar* dx) {
  const Index n = x.rows(), in = x.cols(), out = w.cols();
  if (db) Eigen::Map<RowVec<Scalar>>(db, out).noalias() = gz.colwise().sum();
  if (tiny(n, in, out)) {
#ifdef FASTMLP_HAVE_TINY_KERNELS
    // dW: rows of x^T against gz, or, for one output, dW^T = gz^T x (vectorised over x's columns).
    if (out == 1)
      detail::tiny_gemm<Scalar>(1, in, n, gz.data(), 0, 1, x.data(), in, nullptr, dw.data(), in);
    else
      detail::tiny_gemm<Scalar>(in, out, n, x.data(), 1, in, gz.data(), out, nullptr, dw.data(), out);
    // (No rows: dW is zero, a part of a step's rows that got none; W may be of any size.)
    if (!dx || n == 0) return;
    // dx = gz W^T, from W^T's rows (W itself when out is 1).
    const Scalar* wt = w.data();
    alignas(32) Scalar transposed[kTinyProduct];
    if (out > 1) {
      for (Index i = 0; i < in; ++i)
        for (Index o = 0; o < out; ++o) transposed[o * in + i] = w(i, o);
      wt = transposed;
    }
    detail::tiny_gemm<Scalar>(n, in, out, gz.data(), out, 1, wt, in, nullptr, dx, in);
    return;
#else
    dw.noalias() = x.transpose().lazyProduct(gz);
    if (dx) MatMap<Scalar>(dx, n, in).noalias() = gz.lazyProduct(w.transpose());
    return;
#endif
  }
  if (!product<Scalar>(true, false, in, out, n, x.data(), in, gz.data(), out, dw.data(), out))
    dw.noalias() = x.transpose() * gz;
  if (!dx) return;
  if (!product<Scalar>(false, true, n, in, out, gz.data(), out, w.data(), out, dx, in))
    MatMap<Scalar>(dx, n, in).noalias() = gz * w.transpose();
}

}  // namespace fastmlp
