// Matrix and vector types shared by the engine: row-major, batch-first.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <type_traits>
#include <utility>

#ifdef FASTMLP_HAVE_OPENMP
#include <omp.h>
#endif
#if defined(__SSE__) || defined(_M_X64)
#include <xmmintrin.h>
#define FASTMLP_HAVE_MXCSR 1
#endif

namespace fastmlp {

// Flush-to-zero and denormals-are-zero on this thread for the scope. Subnormal weights (L2 decay,
// dead units, Adam moments) otherwise make every GEMM up to 80x slower. The engine holds one on
// the calling thread per call (its mode back at the end), and one at the start of every parallel
// region on each thread: OpenMP's workers are shared with other OpenMP code in the process, so a
// worker ends the region not flushing (a worker started during a call was born flushing, copying
// its creator's mode: "its own mode back" would keep it so).
class FlushScope {
 public:
#ifdef FASTMLP_HAVE_MXCSR
  static constexpr unsigned kFtzDaz = 0x8040;  // MXCSR bits 15 (FTZ) and 6 (DAZ)
#endif
  // Whether workers end a region not flushing: not without BLAS, where Eigen's GEMM splits
  // products over the same workers in regions of its own (set to flush once, they keep it).
  static std::atomic<bool>& workers_end_unflushed() {
    static std::atomic<bool> unflushed{true};
    return unflushed;
  }

  explicit FlushScope(bool worker = false) {
#ifdef FASTMLP_HAVE_MXCSR
    saved_ = _mm_getcsr();
    _mm_setcsr(saved_ | kFtzDaz);
    if (worker && workers_end_unflushed().load(std::memory_order_relaxed)) saved_ &= ~kFtzDaz;
#else
    (void)worker;
#endif
  }
  ~FlushScope() {
#ifdef FASTMLP_HAVE_MXCSR
    _mm_setcsr(saved_);
#endif
  }
  FlushScope(const FlushScope&) = delete;
  FlushScope& operator=(const FlushScope&) = delete;

 private:
#ifdef FASTMLP_HAVE_MXCSR
  unsigned saved_ = 0;
#endif
};

using Index = Eigen::Index;

template <typename Scalar>
using RowMat = Eigen::Matrix<Scalar, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <typename Scalar>
using RowVec = Eigen::Matrix<Scalar, 1, Eigen::Dynamic>;
template <typename Scalar>
using Vec = Eigen::Matrix<Scalar, Eigen::Dynamic, 1>;

// Views over memory owned elsewhere (a NumPy array, a workspace): never copied.
template <typename Scalar>
using MatMap = Eigen::Map<RowMat<Scalar>>;
template <typename Scalar>
using ConstMatMap = Eigen::Map<const RowMat<Scalar>>;
template <typename Scalar>
using RowVecMap = Eigen::Map<RowVec<Scalar>>;
template <typename Scalar>
using VecMap = Eigen::Map<Vec<Scalar>>;

// Thread t's share [begin, end) of n items split over `parts` threads: whole multiples of 16
// (64-byte lines of floats), the last thread taking the rest.
inline std::pair<Index, Index> part_of(Index n, Index parts, Index t) {
  const Index size = (n / parts + 15) / 16 * 16;
  const Index begin = std::min(n, t * size);
  return {begin, t + 1 == parts ? n : std::min(n, begin + size)};
}

// The threads of the calling thread's current engine call (set per batch size by the network's
// ThreadScope), for the splits below. Kept per calling thread, so that models trained from
// several Python threads at once do not change each other's split, hence results; an OpenMP
// worker sees 1.
inline int& step_threads() {
  static thread_local int threads = 1;
  return threads;
}

// body(t) for each t in [0, parts): the parts shared out over up to `parts` OpenMP threads.
template <typename Body>
void for_each_thread(int parts, Body&& body) {
#ifdef FASTMLP_HAVE_OPENMP
  if (parts > 1) {
#pragma omp parallel num_threads(parts)
    {
      FlushScope flush(omp_get_thread_num() != 0);
      for (int t = omp_get_thread_num(); t < parts; t += omp_get_num_threads()) body(t);
    }
    return;
  }
#endif
  for (int t = 0; t < parts; ++t) body(t);
}

// body(begin, end) over [0, n): split by part_of() over the step's threads (step_threads())
// when n >= parallel_from, else one call on this thread.
template <typename Body>
void for_each_part(Index n, Index parallel_from, Body&& body) {
  const int parts = n >= parallel_from ? step_threads() : 1;
  for_each_thread(parts, [&](int t) {
    const auto [begin, end] = part_of(n, parts, t);
    if (end > begin) body(begin, end);
  });
}

// Whether data[0, n) holds no NaN or infinity (fit's check of its inputs before any step): each
// value's exponent bits compared as integers, which vectorizes; arrays of a million values and
// more split over `threads` threads. Stops early, a block at a time, once one is found.
template <typename Scalar>
bool all_finite(const Scalar* data, Index n, int threads) {
  static_assert(std::is_floating_point_v<Scalar> && (sizeof(Scalar) == 4 || sizeof(Scalar) == 8));
  using Bits = std::conditional_t<sizeof(Scalar) == 4, std::uint32_t, std::uint64_t>;
  constexpr Bits kExponent = sizeof(Scalar) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
  constexpr Index kBlock = Index(1) << 16;
  const int parts = n >= (Index(1) << 20) ? std::max(threads, 1) : 1;
  std::atomic<bool> finite{true};
  for_each_thread(parts, [&](int t) {
    const auto [begin, end] = part_of(n, parts, t);
    for (Index b = begin; b < end && finite.load(std::memory_order_relaxed); b += kBlock) {
      const Index stop = std::min(end, b + kBlock);
      Bits bad = 0;
      for (Index i = b; i < stop; ++i) {
        Bits u;
        std::memcpy(&u, data + i, sizeof u);
        bad |= Bits((u & kExponent) == kExponent);
      }
      if (bad) finite.store(false, std::memory_order_relaxed);
    }
  });
  return finite.load();
}

}  // namespace fastmlp
