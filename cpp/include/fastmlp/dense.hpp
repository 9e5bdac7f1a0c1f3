// One fully connected layer, z = x W + b, over parameters that live in the network's flat vector.
// Products go to BLAS when one is loaded (blas.hpp), else to Eigen.
#pragma once

#include <algorithm>
#include <type_traits>
#include <vector>

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

namespace detail {
#ifdef __AVX512F__
// Small float products with AVX-512 (the later layers of a step by rows: each thread's rows
// through 128 -> 64 -> 10): C (m x n) = sum over p of A(r, p) B[p, :], A(r, p) =
// a[r * ars + p * aps] as in tiny_gemm. R rows of C by V 16-float registers at a time (the last
// one masked), each element summed over p in order, B's row p loaded once for the R rows. No
// packing: B's columns in the block (k x 16V floats) are read from cache for every R rows (BLAS
// packs them first, which at these sizes costs more than it saves).
template <int R, int V>
inline void small_block(Index k, const float* a, Index ars, Index aps, const float* b, Index ldb, __mmask16 tail,
                        float* c, Index ldc) {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  for (Index p = 0; p < k; ++p) {
    __m512 bp[V];
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v)
      bp[v] = v == V - 1 ? _mm512_maskz_loadu_ps(tail, b + p * ldb + 16 * v) : _mm512_loadu_ps(b + p * ldb + 16 * v);
    const float* ap = a + p * aps;
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 s = _mm512_set1_ps(ap[r * ars]);
#pragma GCC unroll 16
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(s, bp[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) _mm512_storeu_ps(c + r * ldc + 16 * v, acc[r][v]);
    _mm512_mask_storeu_ps(c + r * ldc + 16 * (V - 1), tail, acc[r][V - 1]);
  }
}

// All rows of C for one block of V registers' columns: R (<= 8) rows at a time, then the rest.
template <int R, int V>
inline void small_rows(Index m, Index k, const float* a, Index ars, Index aps, const float* b, Index ldb,
                       __mmask16 tail, float* c, Index ldc) {
  Index r = 0;
  for (; r + R <= m; r += R) small_block<R, V>(k, a + r * ars, ars, aps, b, ldb, tail, c + r * ldc, ldc);
  if (r + 4 <= m) {
    small_block<4, V>(k, a + r * ars, ars, aps, b, ldb, tail, c + r * ldc, ldc);
    r += 4;
  }
  switch (m - r) {
    case 1: small_block<1, V>(k, a + r * ars, ars, aps, b, ldb, tail, c + r * ldc, ldc); break;
    case 2: small_block<2, V>(k, a + r * ars, ars, aps, b, ldb, tail, c + r * ldc, ldc); break;
    case 3: small_block<3, V>(k, a + r * ars, ars, aps, b, ldb, tail, c + r * ldc, ldc); break;
    default: break;
  }
}

// dst (16 x 16, rows ldd apart) = the transpose of src (16 x 16, rows lds apart), in registers.
inline void transpose16(const float* src, Index lds, float* dst, Index ldd) {
  __m512 r[16], t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) r[i] = _mm512_loadu_ps(src + i * lds);
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  auto lo = [](__m512 x, __m512 y) {
    return _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
  };
  auto hi = [](__m512 x, __m512 y) {
    return _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(x), _mm512_castps_pd(y)));
  };
#pragma GCC unroll 4
  for (int i = 0; i < 16; i += 4) {
    r[i] = lo(t[i], t[i + 2]);
    r[i + 1] = hi(t[i], t[i + 2]);
    r[i + 2] = lo(t[i + 1], t[i + 3]);
    r[i + 3] = hi(t[i + 1], t[i + 3]);
  }
  // Then 128-bit quarters: out[a], out[b] = the even / odd quarters of in[a] and in[b].
  auto quarters = [](const __m512* in, __m512* out, int a, int b) {
    out[a] = _mm512_shuffle_f32x4(in[a], in[b], 0x88);
    out[b] = _mm512_shuffle_f32x4(in[a], in[b], 0xdd);
  };
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    quarters(r, t, i, i + 4);
    quarters(r, t, i + 8, i + 12);
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    quarters(t, r, i, i + 8);
    quarters(t, r, i + 4, i + 12);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) _mm512_storeu_ps(dst + i * ldd, r[i]);
}

// dst (cols x rows, contiguous) = the transpose of src (rows x cols, rows ld apart).
inline void transpose(const float* src, Index rows, Index cols, Index ld, float* dst) {
  const Index r16 = rows / 16 * 16, c16 = cols / 16 * 16;
  for (Index i = 0; i < r16; i += 16)
    for (Index j = 0; j < c16; j += 16) transpose16(src + i * ld + j, ld, dst + j * rows + i, rows);
  for (Index i = 0; i < rows; ++i)
    for (Index j = i < r16 ? c16 : 0; j < cols; ++j) dst[j * rows + i] = src[i * ld + j];
}

inline void small_gemm(Index m, Index n, Index k, const float* a, Index ars, Index aps, const float* b, Index ldb,
                       float* c, Index ldc) {
  for (Index j = 0; j < n; j += 64) {
    const Index w = std::min<Index>(64, n - j);
    const auto tail = static_cast<__mmask16>((1u << ((w - 1) % 16 + 1)) - 1);
    switch ((w + 15) / 16) {
      case 4: small_rows<6, 4>(m, k, a, ars, aps, b + j, ldb, tail, c + j, ldc); break;
      case 3: small_rows<6, 3>(m, k, a, ars, aps, b + j, ldb, tail, c + j, ldc); break;
      case 2: small_rows<8, 2>(m, k, a, ars, aps, b + j, ldb, tail, c + j, ldc); break;
      default: small_rows<8, 1>(m, k, a, ars, aps, b + j, ldb, tail, c + j, ldc); break;
    }
  }
}
#endif
}  // namespace detail

// Products small_gemm takes on one thread (AVX-512): n in [16, kSmallProduct], k <= kSmallProduct.
constexpr Index kSmallProduct = 256;
#ifdef __AVX512F__
constexpr bool kSmallKernels = true;
#else
constexpr bool kSmallKernels = false;
#endif

// C = op(A) op(B) by small_gemm or BLAS (false if neither applies: no BLAS loaded). With more
// than one thread for the step (step_threads(), set per batch size by the network), the columns
// of C are split over the OpenMP threads, each calling a single-threaded BLAS: one pool of
// threads for all the work, not OpenMP's and BLAS's fighting for the same cores. Each element of
// C is the same sum either way.
template <typename Scalar>
bool product(bool trans_a, bool trans_b, Index m, Index n, Index k, const Scalar* a, Index lda, const Scalar* b,
             Index ldb, Scalar* c, Index ldc) {
  const int threads = step_threads();
  const bool split = threads > 1 && split_products() && n >= 32 * threads;
#ifdef __AVX512F__
  // On one thread, products at most kSmallProduct deep and wide (and at least a register wide):
  // small_gemm, each element the same sum as OpenBLAS's (in order over k). MNIST's later layers
  // at 128 rows: 114 GFLOP/s a core against OpenBLAS's 92-94 (forward 128 -> 64, dW), gz W^T
  // with op(B) transposed first 101 against 82; at 16 rows on a par, gz W^T 3.6 against 7.7 us.
  if constexpr (std::is_same_v<Scalar, float>) {
    if (!split && n >= 16 && n <= kSmallProduct && k <= kSmallProduct) {
      const float* bk = b;
      Index ldbk = ldb;
      if (trans_b) {
        static thread_local std::vector<float> transposed;
        transposed.resize(static_cast<std::size_t>(k * n));
        detail::transpose(b, n, k, ldb, transposed.data());
        bk = transposed.data();
        ldbk = n;
      }
      detail::small_gemm(m, n, k, a, trans_a ? 1 : lda, trans_a ? lda : 1, bk, ldbk, c, ldc);
      return true;
    }
  }
#endif
  if (!blas::available()) return false;
#ifdef FASTMLP_HAVE_OPENMP
  if (split) {
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
