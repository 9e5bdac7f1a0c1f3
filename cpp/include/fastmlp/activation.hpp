// Activations: value in place, and the backward pass written in terms of the OUTPUT a = f(z),
// so a layer keeps only its output, except for the functions whose derivative the output does
// not determine (silu, gelu, mish, hard_silu: not monotonic; relu with a max_value, where a = max
// holds at z = max and above it), whose layers keep z too.
#pragma once

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

enum class Activation : int {
  Linear = 0,
  Relu,
  Sigmoid,
  Tanh,
  Softmax,
  Elu,          // alpha (e^z - 1) below 0 (alpha: ActivationParams)
  Selu,         // Klambauer et al. 2017 constants
  Softplus,
  Softsign,
  LeakyRelu,    // negative slope: ActivationParams::leaky_slope (Keras's default 0.2)
  Exponential,
  HardSigmoid,  // relu6(x + 3) / 6 (Keras 3)
  Relu6,        // min(max(x, 0), 6)
  Silu,         // x sigmoid(x) (Keras's swish)
  Gelu,         // x Phi(x), Phi the standard normal CDF (Keras's default, approximate=False)
  Mish,         // x tanh(softplus(x))
  HardSilu,     // x relu6(x + 3) / 6 (Keras's hard_swish)
  Count_
};

constexpr double kLeakySlope = 0.2;  // Keras's leaky_relu default

// The arguments of the functions that take some, as Keras 3 names them; the others ignore them.
// relu(z) = min(z, max_value) above the threshold, negative_slope (z - threshold) at or below it.
struct ActivationParams {
  double negative_slope = 0;                                   // relu
  double max_value = std::numeric_limits<double>::infinity();  // relu (infinity: none)
  double threshold = 0;                                        // relu
  double leaky_slope = kLeakySlope;                            // leaky_relu's negative_slope
  double alpha = 1;                                            // elu: alpha (e^z - 1) for z <= 0

  // relu's defaults: max(z, 0).
  bool plain_relu() const { return negative_slope == 0 && !has_max() && threshold == 0; }
  bool has_max() const { return max_value != std::numeric_limits<double>::infinity(); }
  // Keras's relu takes TensorFlow's leaky_relu for a slope alone (no max_value, threshold 0):
  // its derivative at 0 is the slope; relu's other forms have 0 there (both parts cut off).
  bool leaky_relu_form() const { return negative_slope != 0 && !has_max() && threshold == 0; }
  // ... and relu6 for max_value 6 at threshold 0: derivative 0 at z = 6; a clip at another
  // max_value passes its end (derivative 1 at z = max_value).
  bool relu6_form() const { return max_value == 6 && threshold == 0; }
};

// Throws std::invalid_argument unless p suits f: finite arguments; relu's max_value and threshold
// >= 0 (below 0, Keras's clip to [0, max_value] and where(z > threshold, z, 0) are not the formula).
inline void validate_activation(Activation f, const ActivationParams& p, const std::string& where) {
  auto check = [&](bool ok, const char* what, double v) {
    if (!ok) throw std::invalid_argument(where + what + ", got " + std::to_string(v));
  };
  if (f == Activation::Relu) {
    check(std::isfinite(p.negative_slope), "relu: negative_slope must be a finite number", p.negative_slope);
    check(std::isfinite(p.threshold) && p.threshold >= 0, "relu: threshold must be a finite number >= 0",
          p.threshold);
    check(!p.has_max() || (std::isfinite(p.max_value) && p.max_value >= 0),
          "relu: max_value must be a finite number >= 0 (infinity: none)", p.max_value);
  } else if (f == Activation::LeakyRelu) {
    check(std::isfinite(p.leaky_slope), "leaky_relu: negative_slope must be a finite number", p.leaky_slope);
  } else if (f == Activation::Elu) {
    check(std::isfinite(p.alpha), "elu: alpha must be a finite number", p.alpha);
  }
}

// The functions whose backward pass reads the pre-activation z (activation_backward_z): those
// whose output does not tell which side of a kink z was on, or the slope there.
inline bool needs_preactivation(Activation f, const ActivationParams& p = {}) {
  switch (f) {
    case Activation::Silu:
    case Activation::Gelu:
    case Activation::Mish:
    case Activation::HardSilu:
      return true;
    case Activation::Relu:
      return !p.plain_relu();
    case Activation::LeakyRelu:  // a negative slope makes outputs > 0 below 0 too
      return p.leaky_slope < 0;
    case Activation::Elu:  // so does a negative alpha
      return p.alpha < 0;
    default:
      return false;
  }
}

inline Activation activation_from_int(int code) {
  if (code < 0 || code >= static_cast<int>(Activation::Count_))
    throw std::invalid_argument("activation: unknown code " + std::to_string(code));
  return static_cast<Activation>(code);
}

namespace selu {
constexpr double kAlpha = 1.6732632423543772848170429916717;
constexpr double kScale = 1.0507009873554804934193349852946;
}  // namespace selu
constexpr double kSqrtHalf = 0.70710678118654752440;  // 1 / sqrt(2), for gelu's erf(z / sqrt(2))

// a = f(a), in place over a (batch, units) block.
template <typename Scalar>
void activate(Activation f, MatMap<Scalar> a, const ActivationParams& p = {}) {
  auto x = a.array();
  switch (f) {
    case Activation::Linear:
      break;
    case Activation::Relu: {
      if (p.plain_relu()) {
        x = x.max(Scalar(0));
        break;
      }
      // min(z, max_value) above the threshold, negative_slope (z - threshold) at or below it
      // (0 without a slope: also for z = -inf, where 0 (z - t) would be NaN)
      const Scalar t(p.threshold), m(p.max_value), s(p.negative_slope);
      if (p.negative_slope == 0)
        x = (x > t).select(x.min(m), Scalar(0));
      else
        x = (x > t).select(x.min(m), s * (x - t));
      break;
    }
    case Activation::Sigmoid:
      // 1 / (1 + e^-x): for x -> -inf, e^-x -> inf and the quotient -> 0 (no NaN).
      x = x.logistic();
      break;
    case Activation::Tanh:
      x = x.tanh();
      break;
    case Activation::Softmax:
      // Row-wise softmax with the max subtracted first, so exp never overflows.
      for (Index i = 0; i < a.rows(); ++i) {
        auto row = a.row(i).array();
        row = (row - row.maxCoeff()).exp();
        row /= row.sum();
      }
      break;
    case Activation::Elu:
      x = (x > Scalar(0)).select(x, Scalar(p.alpha) * (x.min(Scalar(0)).exp() - Scalar(1)));
      break;
    case Activation::Selu:
      x = Scalar(selu::kScale) *
          (x > Scalar(0)).select(x, Scalar(selu::kAlpha) * (x.min(Scalar(0)).exp() - Scalar(1)));
      break;
    case Activation::Softplus:
      // log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow for large x.
      x = x.max(Scalar(0)) + (-x.abs()).exp().log1p();
      break;
    case Activation::Softsign:
      x = x / (Scalar(1) + x.abs());
      break;
    case Activation::LeakyRelu:
      x = (x > Scalar(0)).select(x, Scalar(p.leaky_slope) * x);
      break;
    case Activation::Exponential:
      x = x.exp();
      break;
    case Activation::HardSigmoid:
      x = ((x + Scalar(3)).max(Scalar(0)).min(Scalar(6))) / Scalar(6);
      break;
    case Activation::Relu6:
      x = x.max(Scalar(0)).min(Scalar(6));
      break;
    case Activation::Silu:
      x = x * x.logistic();
      break;
    case Activation::Gelu:  // (std::erf: Eigen's erf is in its unsupported modules)
      for (Index i = 0, size = a.size(); i < size; ++i) {
        const Scalar z = a.data()[i];
        a.data()[i] = Scalar(0.5) * z * (Scalar(1) + std::erf(z * Scalar(kSqrtHalf)));
      }
      break;
    case Activation::Mish:
      x = x * (x.max(Scalar(0)) + (-x.abs()).exp().log1p()).tanh();
      break;
    case Activation::HardSilu:
      x = x * ((x + Scalar(3)).max(Scalar(0)).min(Scalar(6))) / Scalar(6);
      break;
    default:
      throw std::invalid_argument("activation: unknown function");
  }
}

// g = g * f'(z) from the pre-activation z, for the functions of needs_preactivation(f, p).
template <typename Scalar>
void activation_backward_z(Activation f, const MatMap<Scalar>& z_, MatMap<Scalar> g, const ActivationParams& p = {}) {
  auto z = z_.array();
  auto d = g.array();
  switch (f) {
    case Activation::Relu: {  // TensorFlow's sides of the kinks (ActivationParams)
      const Scalar t(p.threshold), m(p.max_value), s(p.negative_slope);
      const Scalar at_t(p.leaky_relu_form() ? p.negative_slope : 0.0), at_m(p.relu6_form() ? 0.0 : 1.0);
      for (Index i = 0, size = g.size(); i < size; ++i) {
        const Scalar zi = z_.data()[i];
        g.data()[i] *= zi > t ? (zi < m ? Scalar(1) : zi == m ? at_m : Scalar(0)) : zi < t ? s : at_t;
      }
      break;
    }
    case Activation::LeakyRelu:  // (a negative slope)
      d = (z > Scalar(0)).select(d, Scalar(p.leaky_slope) * d);
      break;
    case Activation::Elu:  // (a negative alpha) alpha e^z at and below 0
      d *= (z > Scalar(0)).select(Scalar(1), Scalar(p.alpha) * z.min(Scalar(0)).exp());
      break;
    case Activation::Silu: {  // s + z s (1 - s), s = sigmoid(z)
      for (Index i = 0, size = g.size(); i < size; ++i) {
        const Scalar zi = z_.data()[i];
        const Scalar s = Scalar(1) / (Scalar(1) + std::exp(-zi));
        g.data()[i] *= s * (Scalar(1) + zi * (Scalar(1) - s));
      }
      break;
    }
    case Activation::Gelu:  // Phi(z) + z phi(z)
      for (Index i = 0, size = g.size(); i < size; ++i) {
        const Scalar zi = z_.data()[i];
        const Scalar cdf = Scalar(0.5) * (Scalar(1) + std::erf(zi * Scalar(kSqrtHalf)));
        const Scalar pdf = std::exp(Scalar(-0.5) * zi * zi) * Scalar(0.3989422804014327);  // 1/sqrt(2 pi)
        g.data()[i] *= cdf + zi * pdf;
      }
      break;
    case Activation::Mish: {  // t + z sigmoid(z) (1 - t^2), t = tanh(softplus(z))
      const auto t = (z.max(Scalar(0)) + (-z.abs()).exp().log1p()).tanh();
      d *= t + z * z.logistic() * (Scalar(1) - t.square());
      break;
    }
    case Activation::HardSilu:  // relu6(z + 3) / 6 + z / 6 on -3 < z < 3
      d *= (z + Scalar(3)).max(Scalar(0)).min(Scalar(6)) / Scalar(6) +
           (z > Scalar(-3) && z < Scalar(3)).template cast<Scalar>() * z / Scalar(6);
      break;
    default:
      throw std::invalid_argument("activation: not a function of the pre-activation");
  }
}

// g = g * f'(z), with f'(z) expressed through a = f(z); in place over g (batch, units).
// For softmax this is the Jacobian-vector product g_z = a * (g - sum_j g_j a_j).
template <typename Scalar>
void activation_backward(Activation f, const MatMap<Scalar>& a, MatMap<Scalar> g, const ActivationParams& p = {}) {
  if (needs_preactivation(f, p))
    throw std::invalid_argument("activation: this function's derivative needs z (activation_backward_z)");
  auto y = a.array();
  auto d = g.array();
  switch (f) {
    case Activation::Linear:
      break;
    case Activation::Relu:
      d = (y > Scalar(0)).select(d, Scalar(0));
      break;
    case Activation::Sigmoid:
      d *= y * (Scalar(1) - y);
      break;
    case Activation::Tanh:
      d *= Scalar(1) - y.square();
      break;
    case Activation::Softmax:
      for (Index i = 0; i < a.rows(); ++i) {
        const Scalar dot = a.row(i).dot(g.row(i));
        g.row(i).array() = a.row(i).array() * (g.row(i).array() - dot);
      }
      break;
    case Activation::Elu:  // f' = 1 for z > 0, alpha e^z = a + alpha otherwise (alpha >= 0)
      d *= (y > Scalar(0)).select(Scalar(1), y + Scalar(p.alpha));
      break;
    case Activation::Selu:  // f' = scale for z >= 0 (TensorFlow's side of the kink), a + scale * alpha below
      d *= (y >= Scalar(0))
               .select(Scalar(selu::kScale), y + Scalar(selu::kScale * selu::kAlpha));
      break;
    case Activation::Softplus:  // f' = sigmoid(z) = 1 - e^-a
      d *= Scalar(1) - (-y).exp();
      break;
    case Activation::Softsign:  // f' = 1 / (1 + |z|)^2 = (1 - |a|)^2
      d *= (Scalar(1) - y.abs()).square();
      break;
    case Activation::LeakyRelu:  // f' = 1 for z > 0, the slope at and below 0 (slope >= 0)
      d = (y > Scalar(0)).select(d, Scalar(p.leaky_slope) * d);
      break;
    case Activation::Exponential:
      d *= y;
      break;
    case Activation::HardSigmoid:
      d *= (y > Scalar(0) && y < Scalar(1)).template cast<Scalar>() * Scalar(1.0 / 6.0);
      break;
    case Activation::Relu6:
      d *= (y > Scalar(0) && y < Scalar(6)).template cast<Scalar>();
      break;
    default:
      throw std::invalid_argument("activation: unknown function (or one of the pre-activation)");
  }
}

}  // namespace fastmlp
