// One fully connected layer, z = x W + b, over parameters that live in the network's flat vector.
#pragma once

#include "fastmlp/types.hpp"

namespace fastmlp {

// z = x W + b
//   x: (batch, in)   W: (in, out)   b: (out,) or null   z: (batch, out)
template <typename Scalar>
void dense_forward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const Scalar* b,
                   MatMap<Scalar> z) {
  z.noalias() = x * w;
  if (b) z.rowwise() += Eigen::Map<const RowVec<Scalar>>(b, w.cols());
}

// Given gz = dL/dz (batch, out):
//   dW = x^T gz (in, out),  db = sum over the batch of gz (out,),  dx = gz W^T (batch, in).
// db and dx may be null (no bias; first layer, whose input needs no gradient).
template <typename Scalar>
void dense_backward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const MatMap<Scalar>& gz,
                    MatMap<Scalar> dw, Scalar* db, Scalar* dx) {
  dw.noalias() = x.transpose() * gz;
  if (db) Eigen::Map<RowVec<Scalar>>(db, w.cols()).noalias() = gz.colwise().sum();
  if (dx) MatMap<Scalar>(dx, x.rows(), x.cols()).noalias() = gz * w.transpose();
}

}  // namespace fastmlp
