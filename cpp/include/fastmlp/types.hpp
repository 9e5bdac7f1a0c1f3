// Matrix and vector types shared by the engine: row-major, batch-first.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cstdint>
#include <utility>

namespace fastmlp {

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

}  // namespace fastmlp
