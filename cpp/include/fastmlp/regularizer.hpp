// L1 / L2 penalties on a parameter tensor: penalty = l1 sum|w| + l2 sum w^2 (Keras's L2 has no 1/2),
// gradient l1 sign(w) + 2 l2 w (sign(0) = 0, as TensorFlow's gradient of |w| at 0).
#pragma once

#include <cmath>
#include <stdexcept>
#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

struct Penalty {
  double l1 = 0;
  double l2 = 0;
  bool active() const { return l1 != 0 || l2 != 0; }
};

inline void validate(const Penalty& p, const char* what) {
  if (!(p.l1 >= 0) || !(p.l2 >= 0) || !std::isfinite(p.l1) || !std::isfinite(p.l2))
    throw std::invalid_argument(std::string(what) + ": l1 and l2 must be finite numbers >= 0");
}

// Adds the penalty's gradient to g and returns the penalty of w.
template <typename Scalar, typename W, typename G>
double apply_penalty(const Penalty& p, const W& w, G&& g) {
  if (!p.active()) return 0;
  double value = 0;
  if (p.l1 != 0) {
    value += p.l1 * static_cast<double>(w.array().abs().sum());
    g.array() += Scalar(p.l1) * w.array().sign();
  }
  if (p.l2 != 0) {
    value += p.l2 * static_cast<double>(w.squaredNorm());
    g.array() += Scalar(2 * p.l2) * w.array();
  }
  return value;
}

}  // namespace fastmlp
