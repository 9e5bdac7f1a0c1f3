// Losses and their gradients with respect to the network output, averaged over the batch.
//
// Three modes (chosen by the network from the last activation and the loss):
//  - Fused: the last layer's activation (softmax / sigmoid) was NOT applied; `a` holds logits z.
//    The loss is computed in the stable log-sum-exp form, g = dL/dz, and `a` is overwritten with
//    the probabilities so that metrics see the same values as predict().
//  - Logits: the user asked for from_logits=True; `a` is the output and is read as logits.
//    g = dL/da, `a` is left as it is (the activation backward still needs it).
//  - Probabilities: `a` is a probability / value; g = dL/da.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "fastmlp/types.hpp"

namespace fastmlp {

enum class LossKind : int {
  SparseCategoricalCrossentropy = 0,  // y: (n, 1) integer class index
  CategoricalCrossentropy,            // y: (n, k) target distribution
  BinaryCrossentropy,                 // y: (n, k) in [0, 1]
  MeanSquaredError,
  MeanAbsoluteError,
  Hinge,     // y in {-1, +1}: mean(max(1 - y a, 0))
  Logistic,  // y in {-1, +1}: mean(log(1 + exp(-y a))), a read as a score
  // Keras 3's other losses (keras/src/losses/losses.py), with its epsilon 1e-7:
  Huber,                        // e = a - y: mean(|e| <= delta ? e^2 / 2 : delta |e| - delta^2 / 2)
  LogCosh,                      // mean(log(cosh(a - y)))
  MeanSquaredLogarithmicError,  // mean((log1p(max(a, eps)) - log1p(max(y, eps)))^2)
  MeanAbsolutePercentageError,  // 100 mean(|y - a| / max(|y|, eps))
  Poisson,                      // mean(a - y log(a + eps))
  KLDivergence,                 // sum(t log(t / p)), t = clip(y, eps, 1), p = clip(a, eps, 1)
  SquaredHinge,                 // y in {-1, +1}: mean(max(1 - y a, 0)^2)
  CategoricalHinge,             // max(max_j((1 - y_j) a_j) - sum_j(y_j a_j) + 1, 0)
  CosineSimilarity,             // -sum(y / |y| * a / |a|), each norm at least eps
  // Focal cross-entropies (Lin et al. 2017, "Focal Loss for Dense Object Detection"), as Keras 3:
  BinaryFocalCrossentropy,       // mean(w (1 - p_t)^gamma bce), p_t = y p + (1 - y)(1 - p)
  CategoricalFocalCrossentropy,  // sum(alpha (1 - q)^gamma (-y log q)), q = clip(p / sum(p))
  Count_
};

enum class LossMode : int { Probabilities = 0, Logits, Fused };

// The arguments of the losses that take some, as Keras 3 names them; the other losses ignore them.
struct LossParams {
  double delta = 1;              // huber: where the loss turns from quadratic to linear
  double gamma = 2;              // focal losses: the focusing exponent of (1 - p_t)^gamma
  double alpha = 0.25;           // focal: binary, class 1's weight (0's: 1 - alpha); categorical, all's
  bool class_balancing = false;  // binary focal: apply alpha (Keras's apply_class_balancing)
};

inline LossKind loss_from_int(int code) {
  if (code < 0 || code >= static_cast<int>(LossKind::Count_))
    throw std::invalid_argument("loss: unknown code " + std::to_string(code));
  return static_cast<LossKind>(code);
}

// Throws std::invalid_argument unless p suits the loss: Huber's delta finite and > 0; the focal
// losses' gamma finite and >= 0 ((1 - p_t)^gamma must not blow up at p_t = 1), alpha in [0, 1].
inline void validate_loss(LossKind kind, const LossParams& p) {
  auto check = [](bool ok, const std::string& what, double v) {
    if (!ok) throw std::invalid_argument(what + ", got " + std::to_string(v));
  };
  if (kind == LossKind::Huber) {
    check(p.delta > 0 && std::isfinite(p.delta), "huber: delta must be a finite number > 0", p.delta);
  } else if (kind == LossKind::BinaryFocalCrossentropy || kind == LossKind::CategoricalFocalCrossentropy) {
    const std::string name =
        kind == LossKind::BinaryFocalCrossentropy ? "binary_focal_crossentropy" : "categorical_focal_crossentropy";
    check(p.gamma >= 0 && std::isfinite(p.gamma), name + ": gamma must be a finite number >= 0", p.gamma);
    check(p.alpha >= 0 && p.alpha <= 1, name + ": alpha must be a number in [0, 1]", p.alpha);
  }
}

// Probabilities are clipped to [eps, 1 - eps] before a log, as Keras does (epsilon 1e-7).
constexpr double kProbEpsilon = 1e-7;
constexpr double kLn2 = 0.69314718055994530942;  // log(2), for log(cosh(x))

// log(1 + e^x) without overflow.
template <typename Scalar>
inline Scalar softplus(Scalar x) {
  return std::max(x, Scalar(0)) + std::log1p(std::exp(-std::abs(x)));
}

inline void check_class_index(double y, Index classes) {
  if (!(y >= 0 && y < static_cast<double>(classes)) || y != std::floor(y))
    throw std::invalid_argument("sparse_categorical_crossentropy: labels must be integers in [0, " +
                                std::to_string(classes) + "), got " + std::to_string(y));
}

// Where Keras's formula has a kink or a clip, the gradient is TensorFlow's: d|x|/dx = sign(x) (0
// at 0); max(x, c) passes the gradient to x at a tie (x >= c), min(x, c) likewise (x <= c); a
// clip passes it inside its closed range only; a max over outputs shares it among the tied ones.

template <typename Scalar>
struct ValueSlope {
  Scalar value, slope;  // a loss term and its derivative
};

// A loss of one output at a time, averaged over the k outputs: f(a, y) -> {value, dvalue/da}.
// Returns the sum over the rows; g = dvalue/da / (batch k).
template <typename Scalar, typename F>
double elementwise_loss(MatMap<Scalar> a, const ConstMatMap<Scalar>& y, MatMap<Scalar> g, Scalar inv_nk,
                        F f) {
  double total = 0;
  for (Index i = 0; i < a.rows(); ++i) {
    for (Index j = 0; j < a.cols(); ++j) {
      const auto [value, slope] = f(a(i, j), y(i, j));
      total += static_cast<double>(value);
      g(i, j) = slope * inv_nk;
    }
  }
  return total / static_cast<double>(a.cols());
}

// The focal factor u^gamma (u = 1 - p_t) and its derivative gamma u^(gamma - 1): 0 for gamma = 0,
// where u^0 is the constant 1 (TensorFlow's pow gradient is 0 * inf = NaN there at u = 0).
template <typename Scalar>
ValueSlope<Scalar> focal_factor(Scalar u, Scalar gamma) {
  if (gamma == Scalar(0)) return {Scalar(1), Scalar(0)};
  return {std::pow(u, gamma), gamma * std::pow(u, gamma - Scalar(1))};
}

// Keras 3's binary focal cross-entropy of one output v (a probability, or a logit z with
// p = sigmoid(z)) and its target t: {L, dL/dv}, L = w u^gamma bce, u = 1 - p_t,
// p_t = t p + (1 - t)(1 - p), w = t alpha + (1 - t)(1 - alpha) with class balancing (else 1).
// On logits, bce is computed from them (TensorFlow's backend finds the logits behind a sigmoid),
// else from p clipped to [eps, 1 - eps], with no gradient outside.
template <typename Scalar>
ValueSlope<Scalar> binary_focal(Scalar v, Scalar t, bool logits, const LossParams& params) {
  const Scalar one(1), eps(kProbEpsilon), alpha(params.alpha);
  Scalar p = v, bce, dbce, dp = one;  // dbce = d bce / dv, dp = dp / dv
  if (logits) {
    p = one / (one + std::exp(-v));
    bce = std::max(v, Scalar(0)) - v * t + std::log1p(std::exp(-std::abs(v)));
    dbce = p - t;
    dp = p * (one - p);
  } else {
    const Scalar pc = std::min(std::max(p, eps), one - eps);
    bce = -(t * std::log(pc) + (one - t) * std::log(one - pc));
    dbce = p == pc ? (pc - t) / (pc * (one - pc)) : Scalar(0);
  }
  const Scalar u = one - (t * p + (one - t) * (one - p));
  const Scalar du = (one - Scalar(2) * t) * dp;  // du / dv
  const auto [f, df] = focal_factor(u, Scalar(params.gamma));
  const Scalar w = params.class_balancing ? t * alpha + (one - t) * (one - alpha) : one;
  // (a saturated sigmoid has du = 0 where df may be infinite, gamma < 1: the limit is 0)
  return {w * (f * bce), w * ((du == Scalar(0) ? Scalar(0) : df * du) * bce + f * dbce)};
}

// Returns the SUM over the batch of per-sample losses (in double); writes g = d(sum / n)/d(input).
// a: (n, k) network output (see modes above); y: (n, 1) for sparse CE, else (n, k). The rows may
// be a part of a larger batch of `batch` samples (0: just these), whose mean loss g is then of.
// params: the loss's arguments (Huber's delta, the focal losses' gamma and alpha).
template <typename Scalar>
double compute_loss(LossKind kind, LossMode mode, const LossParams& params, MatMap<Scalar> a,
                    const ConstMatMap<Scalar>& y, MatMap<Scalar> g, Index batch = 0, const Scalar* w = nullptr) {
  // Per-sample weights w (Keras's sample_weight): sample i's loss and gradient times w[i], still
  // divided by the batch size (Keras's "sum_over_batch_size").
  if (w) {
    double total = 0;
    for (Index i = 0; i < a.rows(); ++i) {
      const double li = compute_loss<Scalar>(kind, mode, params, MatMap<Scalar>(a.data() + i * a.cols(), 1, a.cols()),
                                             ConstMatMap<Scalar>(y.data() + i * y.cols(), 1, y.cols()),
                                             MatMap<Scalar>(g.data() + i * g.cols(), 1, g.cols()),
                                             batch > 0 ? batch : a.rows());
      total += static_cast<double>(w[i]) * li;
      g.row(i) *= w[i];
    }
    return total;
  }
  const Index n = a.rows(), k = a.cols();
  const Scalar inv_n = Scalar(1) / Scalar(batch > 0 ? batch : n);
  const Scalar inv_nk = inv_n / Scalar(k);
  const Scalar eps = Scalar(kProbEpsilon);
  double total = 0;  // accumulated in double: a float sum over 60,000 samples drifts
  const bool logits = mode != LossMode::Probabilities;

  switch (kind) {
    case LossKind::SparseCategoricalCrossentropy:
    case LossKind::CategoricalCrossentropy: {
      const bool sparse = kind == LossKind::SparseCategoricalCrossentropy;
      for (Index i = 0; i < n; ++i) {
        auto ai = a.row(i).array();
        auto gi = g.row(i).array();
        Index label = 0;
        if (sparse) {
          check_class_index(y(i, 0), k);
          label = static_cast<Index>(y(i, 0));
        }
        if (logits) {
          // L = sum_j y_j (lse - z_j), lse = m + log sum_j e^(z_j - m); dL/dz = p * sum(y) - y.
          const Scalar m = ai.maxCoeff();
          gi = (ai - m).exp();
          const Scalar s = gi.sum();
          const Scalar lse = m + std::log(s);
          gi /= s;  // p
          if (sparse) {
            total += lse - ai(label);
            if (mode == LossMode::Fused) ai = gi;
            gi(label) -= Scalar(1);
            gi *= inv_n;
          } else {
            auto yi = y.row(i).array();
            const Scalar ysum = yi.sum();
            total += (yi * (lse - ai)).sum();
            if (mode == LossMode::Fused) ai = gi;
            gi = (gi * ysum - yi) * inv_n;
          }
        } else {
          // As Keras: q = p / sum(p), L = -sum_j y_j log(clip(q_j)); the clip passes no gradient
          // outside [eps, 1 - eps]. With s = sum(p) and c_j = y_j [q_j unclipped]:
          // dL/dp_k = -c_k / p_k + (sum_j c_j) / s.
          const Scalar s = std::max(ai.sum(), std::numeric_limits<Scalar>::min());
          gi.setZero();
          Scalar passed = 0;  // sum_j c_j
          auto term = [&](Index j, Scalar w) {
            const Scalar q = ai(j) / s;
            const Scalar qc = std::min(std::max(q, eps), Scalar(1) - eps);
            total -= w * std::log(qc);
            if (q == qc) {
              gi(j) = -w / ai(j) * inv_n;
              passed += w;
            }
          };
          if (sparse) {
            term(label, Scalar(1));
          } else {
            for (Index j = 0; j < k; ++j)
              if (y(i, j) != Scalar(0)) term(j, y(i, j));
          }
          gi += passed / s * inv_n;
        }
      }
      break;
    }
    case LossKind::BinaryCrossentropy: {
      if (logits) {
        // L = max(z, 0) - z t + log(1 + e^-|z|); dL/dz = sigmoid(z) - t, with predict's own
        // sigmoid (Eigen's logistic), so that metrics on the fused outputs see predict's values.
        for (Index i = 0; i < n; ++i)
          for (Index j = 0; j < k; ++j) {
            const Scalar z = a(i, j);
            total += std::max(z, Scalar(0)) - z * y(i, j) + std::log1p(std::exp(-std::abs(z)));
          }
        g.array() = a.array().logistic();
        if (mode == LossMode::Fused) a = g;
        g.array() = (g.array() - y.array()) * inv_nk;
      } else {
        for (Index i = 0; i < n; ++i) {
          for (Index j = 0; j < k; ++j) {
            const Scalar t = y(i, j), p = a(i, j);
            const Scalar pc = std::min(std::max(p, eps), Scalar(1) - eps);
            total -= t * std::log(pc) + (Scalar(1) - t) * std::log(Scalar(1) - pc);
            g(i, j) = (p == pc) ? (pc - t) / (pc * (Scalar(1) - pc)) * inv_nk : Scalar(0);
          }
        }
      }
      total /= static_cast<double>(k);
      break;
    }
    case LossKind::MeanSquaredError: {
      auto d = (a.array() - y.array());
      total = d.square().template cast<double>().sum() / static_cast<double>(k);
      g.array() = d * (Scalar(2) * inv_nk);
      break;
    }
    case LossKind::MeanAbsoluteError: {
      auto d = (a.array() - y.array());
      total = d.abs().template cast<double>().sum() / static_cast<double>(k);
      g.array() = d.sign() * inv_nk;
      break;
    }
    case LossKind::Hinge: {
      auto margin = Scalar(1) - y.array() * a.array();
      total = margin.max(Scalar(0)).template cast<double>().sum() / static_cast<double>(k);
      // (at margin 0 the gradient is TensorFlow's: its maximum passes to x at a tie)
      g.array() = (margin >= Scalar(0)).select(-y.array() * inv_nk, Scalar(0));
      break;
    }
    case LossKind::Logistic: {
      // L = log(1 + e^(-y a)); dL/da = -y sigmoid(-y a).
      for (Index i = 0; i < n; ++i) {
        for (Index j = 0; j < k; ++j) {
          const Scalar ya = y(i, j) * a(i, j);
          total += softplus(-ya);
          g(i, j) = -y(i, j) / (Scalar(1) + std::exp(ya)) * inv_nk;
        }
      }
      total /= static_cast<double>(k);
      break;
    }
    case LossKind::Huber: {
      const Scalar delta = Scalar(params.delta);
      total = elementwise_loss(a, y, g, inv_nk, [delta](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        const Scalar e = ai - yi, ae = std::abs(e);
        if (ae <= delta) return {Scalar(0.5) * e * e, e};
        return {delta * ae - Scalar(0.5) * delta * delta, delta * Scalar((e > 0) - (e < 0))};
      });
      break;
    }
    case LossKind::LogCosh:
      // log(cosh(e)) = e + softplus(-2 e) - log(2), as Keras writes it (no overflow);
      // d/de = tanh(e).
      total = elementwise_loss(a, y, g, inv_nk, [](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        const Scalar e = ai - yi;
        return {e + softplus(Scalar(-2) * e) - Scalar(kLn2), std::tanh(e)};
      });
      break;
    case LossKind::MeanSquaredLogarithmicError:
      total = elementwise_loss(a, y, g, inv_nk, [eps](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        const Scalar m = std::max(ai, eps);
        const Scalar d = std::log1p(m) - std::log1p(std::max(yi, eps));
        return {d * d, ai >= eps ? Scalar(2) * d / (Scalar(1) + m) : Scalar(0)};
      });
      break;
    case LossKind::MeanAbsolutePercentageError:
      total = elementwise_loss(a, y, g, inv_nk, [eps](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        const Scalar e = ai - yi, scale = Scalar(100) / std::max(std::abs(yi), eps);
        return {std::abs(e) * scale, Scalar((e > 0) - (e < 0)) * scale};
      });
      break;
    case LossKind::Poisson:
      total = elementwise_loss(a, y, g, inv_nk, [eps](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        return {ai - yi * std::log(ai + eps), Scalar(1) - yi / (ai + eps)};
      });
      break;
    case LossKind::SquaredHinge:
      total = elementwise_loss(a, y, g, inv_nk, [](Scalar ai, Scalar yi) -> ValueSlope<Scalar> {
        const Scalar m = std::max(Scalar(1) - yi * ai, Scalar(0));
        return {m * m, Scalar(-2) * yi * m};
      });
      break;
    case LossKind::KLDivergence: {
      // A sum over the outputs, not a mean: dL/da = -t / p where eps <= a <= 1, else 0.
      for (Index i = 0; i < n; ++i) {
        for (Index j = 0; j < k; ++j) {
          const Scalar t = std::min(std::max(y(i, j), eps), Scalar(1));
          const Scalar p = std::min(std::max(a(i, j), eps), Scalar(1));
          total += t * std::log(t / p);
          g(i, j) = p == a(i, j) ? -t / p * inv_n : Scalar(0);
        }
      }
      break;
    }
    case LossKind::CategoricalHinge: {
      // m = neg - pos + 1, pos = sum_j y_j a_j, neg = max_j (1 - y_j) a_j: the max's gradient is
      // shared among its ties, and max(m, 0) passes it at m = 0.
      for (Index i = 0; i < n; ++i) {
        auto ai = a.row(i).array();
        auto yi = y.row(i).array();
        auto gi = g.row(i).array();
        const auto others = (Scalar(1) - yi) * ai;  // (1 - y_j) a_j
        const Scalar neg = others.maxCoeff();
        const Scalar m = neg - (yi * ai).sum() + Scalar(1);
        total += std::max(m, Scalar(0));
        if (m >= Scalar(0)) {
          const Scalar ties = (others == neg).template cast<Scalar>().sum();
          gi = ((others == neg).select((Scalar(1) - yi) / ties, Scalar(0)) - yi) * inv_n;
        } else {
          gi.setZero();
        }
      }
      break;
    }
    case LossKind::CosineSimilarity: {
      // L = -(u . a) r, u = y min(1 / |y|, 1 / eps), r = min(1 / |a|, 1 / eps). Where 1 / |a| is
      // the smaller: dL/da = -r u + (u . a) r^3 a; else r is the constant 1 / eps and
      // dL/da = -u / eps.
      const Scalar cap = Scalar(1 / kProbEpsilon);
      auto inverse_norm = [cap](Scalar squares) {
        return squares > Scalar(0) ? std::min(Scalar(1) / std::sqrt(squares), cap) : cap;
      };
      for (Index i = 0; i < n; ++i) {
        auto ai = a.row(i).array();
        auto gi = g.row(i).array();
        const Scalar s = ai.square().sum();
        const Scalar r = inverse_norm(s);
        gi = y.row(i).array() * inverse_norm(y.row(i).array().square().sum());  // u
        const Scalar dot = (gi * ai).sum();
        total -= dot * r;
        if (s > Scalar(0) && Scalar(1) / std::sqrt(s) <= cap)
          gi = (dot * r * r * r * ai - r * gi) * inv_n;
        else
          gi *= -cap * inv_n;
      }
      break;
    }
    case LossKind::BinaryFocalCrossentropy:
      total = elementwise_loss(a, y, g, inv_nk, [logits, &params](Scalar ai, Scalar yi) {
        return binary_focal(ai, yi, logits, params);
      });
      if (mode == LossMode::Fused) a.array() = a.array().logistic();  // (predict's sigmoid)
      break;
    case LossKind::CategoricalFocalCrossentropy: {
      // Keras 3: L = sum_j alpha (1 - q_j)^gamma (-y_j log q_j), q = clip(p / s, eps, 1 - eps),
      // s = sum(p), p = softmax(z) on logits; the clip passes no gradient outside. With
      // G_j = dL/dq_j (0 where clipped): dL/dp_k = (G_k - sum_j G_j q_j) / s, and on logits,
      // through the softmax, dL/dz = p (dL/dp - sum_j p_j dL/dp_j).
      const Scalar gamma(params.gamma), alpha(params.alpha);
      for (Index i = 0; i < n; ++i) {
        auto ai = a.row(i).array();
        auto gi = g.row(i).array();
        const Scalar m = logits ? ai.maxCoeff() : Scalar(0);
        Scalar e = 1;  // on logits: sum_j e^(z_j - m)
        if (logits) {
          gi = (ai - m).exp();
          e = gi.sum();
          gi /= e;  // p
        } else {
          gi = ai;
        }
        const Scalar s = std::max(gi.sum(), std::numeric_limits<Scalar>::min());
        Scalar gq = 0;  // sum_j G_j q_j
        for (Index j = 0; j < k; ++j) {
          const Scalar t = y(i, j), q = gi(j) / s;
          const Scalar qc = std::min(std::max(q, eps), Scalar(1) - eps);
          const Scalar ce = -t * std::log(qc);
          const auto [f, df] = focal_factor(Scalar(1) - qc, gamma);
          total += alpha * f * ce;
          gi(j) = q == qc ? -alpha * (df * ce + f * t / qc) : Scalar(0);  // G_j
          gq += gi(j) * q;
        }
        gi = (gi - gq) / s;  // dL/dp
        if (logits) {
          const auto p = (ai - m).exp() / e;  // (the softmax again, as above)
          gi = p * (gi - (p * gi).sum());
        }
        gi *= inv_n;
      }
      break;
    }
    default:
      throw std::invalid_argument("loss: unknown kind");
  }
  return total;
}

}  // namespace fastmlp
