// A first Dense layer whose input is mostly zeros (MNIST's pixels are 81% zeros) computes
// z = x W + b and dW = x^T gz from the nonzeros alone: the batch is compressed row by row (CSR),
// and every product costs per nonzero instead of per element, with W's rows or gz's rows added
// straight into accumulators held in registers (no packing, no zero ever multiplied).
// Float with AVX2 and FMA only (kSparseKernels): 8-float registers, or 16-float ones and the
// compress instructions where the build targets AVX-512 (same sums, lane for lane); elsewhere,
// and for dense inputs, products are dense GEMMs. Each output element is a sum in a different order than the GEMM's, so results
// agree with the dense path to float rounding, not bit for bit.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <vector>

#include "fastmlp/types.hpp"

#if defined(__AVX2__) && defined(__FMA__) && (defined(__GNUC__) || defined(__clang__))  // builtins below
#include <immintrin.h>
#define FASTMLP_HAVE_SPARSE_KERNELS 1
#endif

namespace fastmlp {

#ifdef FASTMLP_HAVE_SPARSE_KERNELS
constexpr bool kSparseKernels = true;
#else
constexpr bool kSparseKernels = false;
#endif

// A batch's input without its zeros, in parts of consecutive rows (one per thread, each
// compressed and used by its own thread): part p holds rows [begin, end), local row i's nonzeros
// being value[start[i], start[i + 1]) in columns index[...]. For dW each part is also kept by
// column (by_columns()): column j's nonzeros are col_value[col_start[j], col_start[j + 1]), from
// the batch's rows col_row[...]. Each part's copy is its own, written by its own thread: one
// shared copy had the threads writing the same cache lines (at 32 rows, 10x slower).
struct SparseBatch {
  struct Part {
    Index begin = 0, end = 0;
    std::vector<std::int32_t> start, index;
    std::vector<float> value;
    std::vector<std::int32_t> col_start, col_row;
    std::vector<float> col_value;
  };
  Index cols = 0;
  std::vector<Part> parts;

  // Fills part p's by-column copy from its rows (a counting sort by column).
  void by_columns(Part& p) const;
};

#ifdef FASTMLP_HAVE_SPARSE_KERNELS

namespace detail {
// For each 8-bit mask, the positions of its set bits, first to last (then zeros): the
// permutation that packs the selected lanes of a vector to its front.
inline const std::array<std::array<std::int32_t, 8>, 256>& pack_table() {
  static const auto table = [] {
    std::array<std::array<std::int32_t, 8>, 256> t{};
    for (int mask = 0; mask < 256; ++mask) {
      int k = 0;
      for (int bit = 0; bit < 8; ++bit)
        if (mask >> bit & 1) t[mask][k++] = bit;
    }
    return t;
  }();
  return table;
}
}  // namespace detail

// Compresses rows row_of(p.begin) .. row_of(p.end - 1), each `cols` floats, into part p. Gives
// up (returns false) once the nonzeros pass max_density * rows * cols: the dense product is then
// faster. NaN and infinities count as nonzeros, so they reach the product as in the dense path.
// in_order: the rows follow each other in memory (else: rows anywhere, a shuffled batch's).
// Given `finite`, a NaN or infinity stops it instead (false, with *finite = false): the
// instance with kCheckFinite (callers pass the pointer; the loop without it has no check).
template <bool kCheckFinite = false, typename RowOf>
bool compress(RowOf row_of, Index cols, double max_density, SparseBatch::Part& p, bool in_order,
              bool* finite = nullptr) {
  if constexpr (!kCheckFinite)
    if (finite) return compress<true>(row_of, cols, max_density, p, in_order, finite);
  const auto& table = detail::pack_table();
  const Index n = p.end - p.begin;
  const auto limit = static_cast<std::int64_t>(max_density * static_cast<double>(n * cols));
  // Positions are int32: a part too large for them stays dense.
  if (limit + cols + 16 > std::numeric_limits<std::int32_t>::max()) return false;
  // Checked after each row, so a row may pass the limit; whole-vector stores write up to 15 more.
  const std::size_t capacity = static_cast<std::size_t>(limit + cols) + 16;
  if (p.value.size() < capacity) {
    p.value.resize(capacity);
    p.index.resize(capacity);
  }
  p.start.resize(static_cast<std::size_t>(n) + 1);
  std::int32_t* index = p.index.data();
  float* value = p.value.data();
  std::int32_t nz = 0;
  const __m256 zero = _mm256_setzero_ps();
  const std::size_t row_bytes = sizeof(float) * static_cast<std::size_t>(cols);
  for (Index i = 0; i < n; ++i) {
    p.start[static_cast<std::size_t>(i)] = nz;
    const float* row = row_of(p.begin + i);
    // Random rows of a large array (a shuffled epoch): the next one asked for now, so that it
    // streams in while this one is compressed, instead of a cache miss per line (MNIST at batch
    // 256 on Zen 4: epochs 7% slower without; two to four rows ahead, no faster). Into L2, not
    // L1 (5% faster than into L1, whose lines the weights and gradients of the step need). Rows
    // in order are left to the processor's own prefetcher (asked for as well, predict of 10,000
    // MNIST rows took 4% longer).
    if (!in_order && i + 1 < n) {
      const char* next = reinterpret_cast<const char*>(row_of(p.begin + i + 1));
      for (std::size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b, 0, 2);
    }
    Index j = 0;
#ifdef __AVX512F__
    // 16 at a time: the nonzeros and their positions packed by the compress instructions (into
    // registers, then stored whole: a compressing store to memory is slow on some processors).
    const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    for (; j + 16 <= cols; j += 16) {
      const __m512 v = _mm512_loadu_ps(row + j);
      if constexpr (kCheckFinite)  // (v - v: NaN for NaN and infinities, else 0)
        if (_mm512_cmp_ps_mask(_mm512_sub_ps(v, v), _mm512_setzero_ps(), _CMP_UNORD_Q)) return *finite = false;
      const __mmask16 mask = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_NEQ_UQ);
      _mm512_storeu_ps(value + nz, _mm512_maskz_compress_ps(mask, v));
      _mm512_storeu_si512(index + nz, _mm512_maskz_compress_epi32(
                                           mask, _mm512_add_epi32(lane, _mm512_set1_epi32(static_cast<int>(j)))));
      nz += __builtin_popcount(static_cast<unsigned>(mask));
    }
#endif
    for (; j + 8 <= cols; j += 8) {
      const __m256 v = _mm256_loadu_ps(row + j);
      if constexpr (kCheckFinite)
        if (_mm256_movemask_ps(_mm256_cmp_ps(_mm256_sub_ps(v, v), zero, _CMP_UNORD_Q))) return *finite = false;
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
      const __m256i lanes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table[mask].data()));
      _mm256_storeu_ps(value + nz, _mm256_permutevar8x32_ps(v, lanes));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + nz),
                          _mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(j))));
      nz += __builtin_popcount(static_cast<unsigned>(mask));
    }
    for (; j < cols; ++j) {
      if constexpr (kCheckFinite)
        if (!(row[j] - row[j] == 0.0f)) return *finite = false;
      if (!(row[j] == 0.0f)) {
        index[nz] = static_cast<std::int32_t>(j);
        value[nz++] = row[j];
      }
    }
    if (nz > limit) return false;
  }
  p.start[static_cast<std::size_t>(n)] = nz;
  return true;
}

namespace detail {
// A list of nonzeros: values val[0, count) at positions idx[0, count).
struct Run {
  const std::int32_t* idx;
  const float* val;
  std::int32_t count;
};

// out[0, 8V) = init + sum over the runs' nonzeros (p, v) of v * rows[p * ld + (0, 8V)],
// accumulated in V registers. init may be null (zeros). relu: max(out, 0) stored instead (with
// Eigen's max: NaN kept, -0 kept).
template <int V>
inline void accumulate_rows(const Run* runs, int n_runs, const float* rows, Index ld, const float* init, float* out,
                            bool relu) {
  __m256 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = init ? _mm256_loadu_ps(init + 8 * v) : _mm256_setzero_ps();
  for (int r = 0; r < n_runs; ++r) {
    const std::int32_t* idx = runs[r].idx;
    const float* val = runs[r].val;
    for (std::int32_t p = 0; p < runs[r].count; ++p) {
      const float* row = rows + static_cast<Index>(idx[p]) * ld;
      const __m256 s = _mm256_broadcast_ss(val + p);
#pragma GCC unroll 8
      for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(row + 8 * v), acc[v]);
    }
  }
  if (relu)
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm256_max_ps(_mm256_setzero_ps(), acc[v]);
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

#ifdef __AVX512F__
// With AVX-512: V 16-float registers, the last one loading and storing only the lanes of `tail`.
// Each lane adds the same products in the same order as the 8-float version: the same sums.
template <int V>
inline void accumulate_rows16(const Run* runs, int n_runs, const float* rows, Index ld, const float* init, float* out,
                              __mmask16 tail, bool relu) {
  __m512 acc[V];
#pragma GCC unroll 16
  for (int v = 0; v < V; ++v) {
    const __mmask16 m = v == V - 1 ? tail : __mmask16(0xFFFF);
    acc[v] = init ? _mm512_maskz_loadu_ps(m, init + 16 * v) : _mm512_setzero_ps();
  }
  for (int r = 0; r < n_runs; ++r) {
    const std::int32_t* idx = runs[r].idx;
    const float* val = runs[r].val;
    for (std::int32_t p = 0; p < runs[r].count; ++p) {
      const float* row = rows + static_cast<Index>(idx[p]) * ld;
      // The row of the nonzero 4 ahead, asked for now (they are scattered: MNIST's predict,
      // one thread, 4% faster).
      if (p + 4 < runs[r].count) {
        const float* ahead = rows + static_cast<Index>(idx[p + 4]) * ld;
#pragma GCC unroll 16
        for (int v = 0; v < V; ++v) __builtin_prefetch(ahead + 16 * v, 0, 3);
      }
      const __m512 s = _mm512_set1_ps(val[p]);
#pragma GCC unroll 16
      for (int v = 0; v < V - 1; ++v) acc[v] = _mm512_fmadd_ps(s, _mm512_loadu_ps(row + 16 * v), acc[v]);
      acc[V - 1] = _mm512_fmadd_ps(s, _mm512_maskz_loadu_ps(tail, row + 16 * (V - 1)), acc[V - 1]);
    }
  }
  if (relu)
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) acc[v] = _mm512_max_ps(_mm512_setzero_ps(), acc[v]);
#pragma GCC unroll 16
  for (int v = 0; v < V - 1; ++v) _mm512_storeu_ps(out + 16 * v, acc[v]);
  _mm512_mask_storeu_ps(out + 16 * (V - 1), tail, acc[V - 1]);
}

// The same over all `width` columns of rows `width` floats long: 128 at a time, then the rest
// in one pass (its last register partly used).
inline void accumulate_columns(const Run* runs, int n_runs, const float* rows, Index width, const float* init,
                               float* out, bool relu = false) {
  Index c = 0;
  for (; c + 128 <= width; c += 128)
    accumulate_rows16<8>(runs, n_runs, rows + c, width, init ? init + c : nullptr, out + c, 0xFFFF, relu);
  const Index rest = width - c;
  if (rest == 0) return;
  const float* init_c = init ? init + c : nullptr;
  const auto tail = static_cast<__mmask16>((1u << ((rest - 1) % 16 + 1)) - 1);
  switch ((rest + 15) / 16) {
    case 8: accumulate_rows16<8>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 7: accumulate_rows16<7>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 6: accumulate_rows16<6>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 5: accumulate_rows16<5>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 4: accumulate_rows16<4>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 3: accumulate_rows16<3>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    case 2: accumulate_rows16<2>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
    default: accumulate_rows16<1>(runs, n_runs, rows + c, width, init_c, out + c, tail, relu); break;
  }
}
#else
// The same over all `width` columns of rows `width` floats long: 64 at a time, then one block
// of 8..56, then one by one.
inline void accumulate_columns(const Run* runs, int n_runs, const float* rows, Index width, const float* init,
                               float* out, bool relu = false) {
  Index c = 0;
  for (; c + 64 <= width; c += 64)
    accumulate_rows<8>(runs, n_runs, rows + c, width, init ? init + c : nullptr, out + c, relu);
  const float* init_c = init ? init + c : nullptr;
  switch ((width - c) / 8) {
    case 7: accumulate_rows<7>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 6: accumulate_rows<6>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 5: accumulate_rows<5>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 4: accumulate_rows<4>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 3: accumulate_rows<3>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 2: accumulate_rows<2>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    case 1: accumulate_rows<1>(runs, n_runs, rows + c, width, init_c, out + c, relu); break;
    default: break;
  }
  c += (width - c) / 8 * 8;
  for (; c < width; ++c) {
    float sum = init ? init[c] : 0.0f;
    for (int r = 0; r < n_runs; ++r)
      for (std::int32_t p = 0; p < runs[r].count; ++p)
        sum += runs[r].val[p] * rows[static_cast<Index>(runs[r].idx[p]) * width + c];
    out[c] = relu ? std::max(sum, 0.0f) : sum;
  }
}
#endif  // __AVX512F__
}  // namespace detail

// Part p's rows of z = x W + b.  W: (cols, out) row-major; b: (out,) or null; z: (rows, out).
// relu: max(z, 0) instead (as Eigen's max: the same numbers as z then relu).
inline void sparse_forward(const SparseBatch::Part& p, const float* w, const float* b, Index out, float* z,
                           bool relu = false) {
  for (Index i = 0; i < p.end - p.begin; ++i) {
    const auto at = static_cast<std::size_t>(i);
    const detail::Run run{p.index.data() + p.start[at], p.value.data() + p.start[at], p.start[at + 1] - p.start[at]};
    detail::accumulate_columns(&run, 1, w, out, b, z + (p.begin + i) * out, relu);
  }
}

// Every part's rows of the products of input columns [j0, j1) alone: z += x[:, j0:j1] W[j0:j1]
// with z starting from init (b, or zeros where init is null). Split by input columns, each
// thread of a step reads only the rows of W it updates (the columns it owns for dW): W's rows
// never move between the cores' caches, only these (rows, out) partial sums do.
inline void sparse_forward_columns(const SparseBatch& x, Index j0, Index j1, const float* w, const float* init,
                                   Index out, float* z) {
  for (const SparseBatch::Part& p : x.parts)
    for (Index i = 0; i < p.end - p.begin; ++i) {
      const auto at = static_cast<std::size_t>(i);
      const std::int32_t* first = p.index.data() + p.start[at];
      const std::int32_t* last = p.index.data() + p.start[at + 1];
      // (a row's positions ascend)
      const std::int32_t* lo = j0 > 0 ? std::lower_bound(first, last, static_cast<std::int32_t>(j0)) : first;
      const std::int32_t* hi = std::lower_bound(lo, last, static_cast<std::int32_t>(j1));
      const detail::Run run{lo, p.value.data() + (lo - p.index.data()), static_cast<std::int32_t>(hi - lo)};
      detail::accumulate_columns(&run, 1, w, out, init, z + (p.begin + i) * out);
    }
}

// Rows [j0, j1) of dW = x^T gz (each row j: the sum over the samples whose x_j is nonzero of
// x_j gz_sample, all parts' samples in turn), calling done(j) after each row.
// gz: (rows, out); dW: (cols, out). Needs every part's by-column copy. runs: room for one Run
// per part. (Narrower strips of gz that stay in L1 were slower: at 256 samples, 16 columns
// took 1.45x the time of 64.)
template <typename Done>
void sparse_weight_gradient(const SparseBatch& x, const float* gz, Index out, float* dw, Index j0, Index j1,
                            detail::Run* runs, Done&& done) {
  const int n_runs = static_cast<int>(x.parts.size());
  for (Index j = j0; j < j1; ++j) {
    const auto at = static_cast<std::size_t>(j);
    for (int r = 0; r < n_runs; ++r) {
      const SparseBatch::Part& p = x.parts[static_cast<std::size_t>(r)];
      const std::int32_t begin = p.col_start[at];
      runs[r] = {p.col_row.data() + begin, p.col_value.data() + begin, p.col_start[at + 1] - begin};
    }
    detail::accumulate_columns(runs, n_runs, gz, out, nullptr, dw + j * out);
    done(j);
  }
}

#endif  // FASTMLP_HAVE_SPARSE_KERNELS

inline void SparseBatch::by_columns(Part& p) const {
  const auto n_cols = static_cast<std::size_t>(cols);
  const std::int32_t nz = p.start.back();
  const std::int32_t* index = p.index.data();
  // Counts per column, shifted by one, summed into the columns' starts.
  p.col_start.assign(n_cols + 1, 0);
  std::int32_t* col_start = p.col_start.data();
  for (std::int32_t q = 0; q < nz; ++q) ++col_start[index[q] + 1];
  for (std::size_t j = 0; j < n_cols; ++j) col_start[j + 1] += col_start[j];
  p.col_row.resize(static_cast<std::size_t>(nz));
  p.col_value.resize(static_cast<std::size_t>(nz));
  std::int32_t* __restrict row = p.col_row.data();
  float* __restrict value = p.col_value.data();
  const float* src = p.value.data();
  // Places each nonzero at its column's next free position (col_start[j] moves up to the next
  // column's start), then shifts the starts back.
  for (Index i = 0; i < p.end - p.begin; ++i) {
    const auto r = static_cast<std::int32_t>(p.begin + i);
    for (std::int32_t q = p.start[static_cast<std::size_t>(i)]; q < p.start[static_cast<std::size_t>(i) + 1]; ++q) {
      const std::int32_t at = col_start[index[q]]++;
      row[at] = r;
      value[at] = src[q];
    }
  }
  for (std::size_t j = n_cols; j > 0; --j) col_start[j] = col_start[j - 1];
  col_start[0] = 0;
}

}  // namespace fastmlp
