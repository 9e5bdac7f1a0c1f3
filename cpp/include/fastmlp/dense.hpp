// One fully connected layer, z = x W + b, over parameters that live in the network's flat vector.
// Products go to BLAS when one is loaded (blas.hpp), else to Eigen.
#pragma once

#include "fastmlp/blas.hpp"
#include "fastmlp/types.hpp"

namespace fastmlp {

// z = x W + b
//   x: (batch, in)   W: (in, out)   b: (out,) or null   z: (batch, out)
template <typename Scalar>
void dense_forward(const ConstMatMap<Scalar>& x, const MatMap<Scalar>& w, const Scalar* b,
                   MatMap<Scalar> z) {
  if (!blas::gemm(false, false, x.rows(), w.cols(), x.cols(), x.data(), x.cols(), w.data(), w.cols(),
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
  if (!blas::gemm(true, false, in, out, n, x.data(), in, gz.data(), out, dw.data(), out))
    dw.noalias() = x.transpose() * gz;
  if (db) Eigen::Map<RowVec<Scalar>>(db, out).noalias() = gz.colwise().sum();
  if (dx && !blas::gemm(false, true, n, in, out, gz.data(), out, w.data(), out, dx, in))
    MatMap<Scalar>(dx, n, in).noalias() = gz * w.transpose();
}

}  // namespace fastmlp
