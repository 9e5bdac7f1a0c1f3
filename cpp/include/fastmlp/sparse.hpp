// A first Dense layer whose input is mostly zeros (MNIST's pixels are 81% zeros) computes
// z = x W + b and dW = x^T gz from the nonzeros alone: the batch is compressed row by row (CSR),
// and every product costs per nonzero instead of per element, with W's rows or gz's rows added
// straight into accumulators held in registers (no packing, no zero ever multiplied).
// Float with AVX2 and FMA only (kSparseKernels); elsewhere, and for dense inputs, products are
// dense GEMMs. Each output element is a sum in a different order than the GEMM's, so results
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
// being value[start[i], start[i + 1]) in columns index[...]. For dW the whole batch is also kept
// by column: column j's nonzeros are col_value[col_start[j], col_start[j + 1]), from rows col_row.
struct SparseBatch {
  struct Part {
    Index begin = 0, end = 0;
    std::vector<std::int32_t> start, index;
    std::vector<float> value;
    std::vector<std::int32_t> fill;  // by-column counts, then next positions, per column
  };
  Index cols = 0;
  std::vector<Part> parts;
  std::vector<std::int32_t> col_start, col_row;
  std::vector<float> col_value;

  // The by-column copy in three phases, each part's own work parallel, the middle one serial:
  // count each part's nonzeros per column; lay out the columns (part 0's rows first in each);
  // place each part's nonzeros.
  void count_columns(Part& p) const;
  void lay_out_columns();
  void place_columns(Part& p);
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
template <typename RowOf>
bool compress(RowOf row_of, Index cols, double max_density, SparseBatch::Part& p) {
  const auto& table = detail::pack_table();
  const Index n = p.end - p.begin;
  const auto limit = static_cast<std::int64_t>(max_density * static_cast<double>(n * cols));
  // Positions are int32: a part too large for them stays dense.
  if (limit + cols + 8 > std::numeric_limits<std::int32_t>::max()) return false;
  // Checked after each row, so a row may pass the limit; whole-vector stores write up to 7 more.
  const std::size_t capacity = static_cast<std::size_t>(limit + cols) + 8;
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
    // The rows are often random rows of a large array (a shuffled epoch): ask for the next one
    // now, so that it streams in while this one is compressed, instead of a cache miss per line.
    if (i + 1 < n) {
      const char* next = reinterpret_cast<const char*>(row_of(p.begin + i + 1));
      for (std::size_t b = 0; b < row_bytes; b += 64) __builtin_prefetch(next + b, 0, 3);
    }
    Index j = 0;
    for (; j + 8 <= cols; j += 8) {
      const __m256 v = _mm256_loadu_ps(row + j);
      const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, zero, _CMP_NEQ_UQ));
      const __m256i lanes = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(table[mask].data()));
      _mm256_storeu_ps(value + nz, _mm256_permutevar8x32_ps(v, lanes));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(index + nz),
                          _mm256_add_epi32(lanes, _mm256_set1_epi32(static_cast<int>(j))));
      nz += __builtin_popcount(static_cast<unsigned>(mask));
    }
    for (; j < cols; ++j)
      if (!(row[j] == 0.0f)) {
        index[nz] = static_cast<std::int32_t>(j);
        value[nz++] = row[j];
      }
    if (nz > limit) return false;
  }
  p.start[static_cast<std::size_t>(n)] = nz;
  return true;
}

namespace detail {
// out[0, 8V) = init + sum over p of val[p] * rows[idx[p] * ld + (0, 8V)], accumulated in V
// registers. init may be null (zeros).
template <int V>
inline void accumulate_rows(const std::int32_t* idx, const float* val, std::int32_t count, const float* rows,
                            Index ld, const float* init, float* out) {
  __m256 acc[V];
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) acc[v] = init ? _mm256_loadu_ps(init + 8 * v) : _mm256_setzero_ps();
  for (std::int32_t p = 0; p < count; ++p) {
    const float* r = rows + static_cast<Index>(idx[p]) * ld;
    const __m256 s = _mm256_broadcast_ss(val + p);
#pragma GCC unroll 8
    for (int v = 0; v < V; ++v) acc[v] = _mm256_fmadd_ps(s, _mm256_loadu_ps(r + 8 * v), acc[v]);
  }
#pragma GCC unroll 8
  for (int v = 0; v < V; ++v) _mm256_storeu_ps(out + 8 * v, acc[v]);
}

// The same over all `width` columns of rows `width` floats long: 64 at a time, then one block
// of 8..56, then one by one.
inline void accumulate_columns(const std::int32_t* idx, const float* val, std::int32_t count, const float* rows,
                               Index width, const float* init, float* out) {
  Index c = 0;
  for (; c + 64 <= width; c += 64)
    accumulate_rows<8>(idx, val, count, rows + c, width, init ? init + c : nullptr, out + c);
  const float* init_c = init ? init + c : nullptr;
  switch ((width - c) / 8) {
    case 7: accumulate_rows<7>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 6: accumulate_rows<6>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 5: accumulate_rows<5>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 4: accumulate_rows<4>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 3: accumulate_rows<3>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 2: accumulate_rows<2>(idx, val, count, rows + c, width, init_c, out + c); break;
    case 1: accumulate_rows<1>(idx, val, count, rows + c, width, init_c, out + c); break;
    default: break;
  }
  c += (width - c) / 8 * 8;
  for (; c < width; ++c) {
    float sum = init ? init[c] : 0.0f;
    for (std::int32_t p = 0; p < count; ++p) sum += val[p] * rows[static_cast<Index>(idx[p]) * width + c];
    out[c] = sum;
  }
}
}  // namespace detail

// Part p's rows of z = x W + b.  W: (cols, out) row-major; b: (out,) or null; z: (rows, out).
inline void sparse_forward(const SparseBatch::Part& p, const float* w, const float* b, Index out, float* z) {
  for (Index i = 0; i < p.end - p.begin; ++i) {
    const std::int32_t begin = p.start[static_cast<std::size_t>(i)], end = p.start[static_cast<std::size_t>(i) + 1];
    detail::accumulate_columns(p.index.data() + begin, p.value.data() + begin, end - begin, w, out, b,
                               z + (p.begin + i) * out);
  }
}

// Rows [j0, j1) of dW = x^T gz (each row j: the sum over the samples whose x_j is nonzero of
// x_j gz_sample).  gz: (rows, out); dW: (cols, out). Needs the by-column copy. (Narrower strips
// of gz that stay in L1 were slower: at 256 samples, 16 columns took 1.45x the time of 64.)
inline void sparse_weight_gradient(const SparseBatch& x, const float* gz, Index out, float* dw, Index j0, Index j1) {
  for (Index j = j0; j < j1; ++j) {
    const std::int32_t begin = x.col_start[static_cast<std::size_t>(j)];
    const std::int32_t end = x.col_start[static_cast<std::size_t>(j) + 1];
    detail::accumulate_columns(x.col_row.data() + begin, x.col_value.data() + begin, end - begin, gz, out, nullptr,
                               dw + j * out);
  }
}

#endif  // FASTMLP_HAVE_SPARSE_KERNELS

inline void SparseBatch::count_columns(Part& p) const {
  p.fill.assign(static_cast<std::size_t>(cols), 0);
  const std::int32_t nz = p.start.back();
  for (std::int32_t q = 0; q < nz; ++q) ++p.fill[static_cast<std::size_t>(p.index[static_cast<std::size_t>(q)])];
}

inline void SparseBatch::lay_out_columns() {
  col_start.resize(static_cast<std::size_t>(cols) + 1);
  std::int32_t total = 0;
  for (std::size_t j = 0; j < static_cast<std::size_t>(cols); ++j) {
    col_start[j] = total;
    for (Part& p : parts) {  // count -> where this part's nonzeros of column j go
      const std::int32_t count = p.fill[j];
      p.fill[j] = total;
      total += count;
    }
  }
  col_start[static_cast<std::size_t>(cols)] = total;
  col_row.resize(static_cast<std::size_t>(total));
  col_value.resize(static_cast<std::size_t>(total));
}

inline void SparseBatch::place_columns(Part& p) {
  for (Index i = 0; i < p.end - p.begin; ++i)
    for (std::int32_t q = p.start[static_cast<std::size_t>(i)]; q < p.start[static_cast<std::size_t>(i) + 1]; ++q) {
      const std::int32_t at = p.fill[static_cast<std::size_t>(p.index[static_cast<std::size_t>(q)])]++;
      col_row[static_cast<std::size_t>(at)] = static_cast<std::int32_t>(p.begin + i);
      col_value[static_cast<std::size_t>(at)] = p.value[static_cast<std::size_t>(q)];
    }
}

}  // namespace fastmlp
