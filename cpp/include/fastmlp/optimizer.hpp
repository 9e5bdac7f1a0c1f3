// Optimizers: one pass over the flat parameter vector per step, with Keras 3's update rules
// (keras/src/optimizers/*.py) so that results match a Keras user's expectation.
#pragma once

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastmlp/types.hpp"

namespace fastmlp {

// Below this many parameters one thread updates them all; above, each of the step's threads
// (step_threads()) updates a contiguous part. Every element gets the same formula either way.
constexpr Index kParallelUpdate = 16384;

enum class OptimizerKind : int { SGD = 0, Adam, RMSprop, Adagrad, Adadelta, Nadam, Adamax, Lion, Ftrl, Count_ };

struct OptimizerConfig {
  OptimizerKind kind = OptimizerKind::Adam;
  double learning_rate = 1e-3;
  double momentum = 0.0;  // SGD, RMSprop
  bool nesterov = false;  // SGD
  double beta_1 = 0.9;    // Adam, Nadam, Adamax, Lion
  double beta_2 = 0.999;  // Adam, Nadam, Adamax (0.999), Lion (0.99)
  double epsilon = 1e-7;  // Adam, RMSprop, Adagrad, Adadelta, Nadam, Adamax
  bool amsgrad = false;   // Adam
  double rho = 0.9;       // RMSprop (0.9), Adadelta (0.95)
  bool centered = false;  // RMSprop
  double initial_accumulator_value = 0.1;  // Adagrad, Ftrl
  double learning_rate_power = -0.5;       // Ftrl (<= 0)
  double l1_regularization_strength = 0.0;            // Ftrl
  double l2_regularization_strength = 0.0;            // Ftrl
  double l2_shrinkage_regularization_strength = 0.0;  // Ftrl
  double beta = 0.0;                                  // Ftrl
  double weight_decay = 0.0;  // decoupled, as Keras 3: w -= lr * wd * w before the update
};

inline void validate(const OptimizerConfig& c) {
  auto nonneg = [](double v, const char* name) {
    if (!(v >= 0) || !std::isfinite(v))
      throw std::invalid_argument(std::string("optimizer: ") + name +
                                  " must be a finite number >= 0, got " + std::to_string(v));
  };
  if (static_cast<int>(c.kind) < 0 || c.kind >= OptimizerKind::Count_)
    throw std::invalid_argument("optimizer: unknown kind");
  nonneg(c.learning_rate, "learning_rate");
  nonneg(c.momentum, "momentum");
  nonneg(c.epsilon, "epsilon");
  nonneg(c.weight_decay, "weight_decay");
  nonneg(c.initial_accumulator_value, "initial_accumulator_value");
  nonneg(c.l1_regularization_strength, "l1_regularization_strength");
  nonneg(c.l2_regularization_strength, "l2_regularization_strength");
  nonneg(c.l2_shrinkage_regularization_strength, "l2_shrinkage_regularization_strength");
  nonneg(c.beta, "beta");
  if (!(c.learning_rate_power <= 0) || !std::isfinite(c.learning_rate_power))
    throw std::invalid_argument("optimizer: learning_rate_power must be a finite number <= 0");
  if (c.kind == OptimizerKind::Lion) {  // (Keras: beta_1 = 0 would be SignSGD)
    if (!(c.beta_1 > 0 && c.beta_1 <= 1)) throw std::invalid_argument("optimizer: beta_1 must be in (0, 1]");
    if (!(c.beta_2 >= 0 && c.beta_2 <= 1)) throw std::invalid_argument("optimizer: beta_2 must be in [0, 1]");
  } else {
    if (!(c.beta_1 >= 0 && c.beta_1 < 1)) throw std::invalid_argument("optimizer: beta_1 must be in [0, 1)");
    if (!(c.beta_2 >= 0 && c.beta_2 < 1)) throw std::invalid_argument("optimizer: beta_2 must be in [0, 1)");
  }
  if (!(c.rho >= 0 && c.rho < 1)) throw std::invalid_argument("optimizer: rho must be in [0, 1)");
}

// Keras 3 casts some Python-float hyperparameters to the variable's dtype with ops.cast, which
// makes a float32 tensor first (tf.cast of a Python float): Nadam's and Lion's betas, Adamax's
// beta_1 in its bias correction, Ftrl's initial accumulator. The rules below use the same values,
// so that float64 training follows Keras's to the last digits (float32 is unchanged by this).
inline double keras_cast(double v) { return static_cast<double>(static_cast<float>(v)); }

template <typename Scalar>
class Optimizer {
 public:
  Optimizer() = default;

  // Sets the rule and clears the state (slots are built lazily at the next step, as in Keras).
  void configure(const OptimizerConfig& config) {
    validate(config);
    config_ = config;
    slots_.clear();
    iterations_ = 0;
    u_product_ = 1;
    rates_.clear();
  }
  const OptimizerConfig& config() const { return config_; }
  void set_learning_rate(double lr) {
    if (!(lr >= 0) || !std::isfinite(lr))
      throw std::invalid_argument("learning_rate must be a finite number >= 0, got " + std::to_string(lr));
    config_.learning_rate = lr;
    rates_.clear();
  }
  // A learning rate for each of the steps first, first + 1, ... (a schedule's values, computed by
  // the caller for the steps of its next call), where a step's number is the count of steps before
  // it (Keras's `optimizer.iterations` during the step). Replaces the constant learning rate until
  // set_learning_rate(); a step outside the table is refused. Empty: the constant rate again.
  void set_learning_rates(std::int64_t first, std::vector<double> rates) {
    for (double lr : rates)
      if (!(lr >= 0) || !std::isfinite(lr))
        throw std::invalid_argument("learning rates must be finite numbers >= 0, got " + std::to_string(lr));
    if (first < 0) throw std::invalid_argument("learning rates: the first step must be >= 0");
    rates_ = std::move(rates);
    rates_first_ = first;
  }
  std::int64_t iterations() const { return iterations_; }
  // Parameters [lo, hi) that no step changes (frozen layers: neither their values nor their
  // slots), sorted and disjoint. Kept by configure().
  void set_frozen(std::vector<std::pair<Index, Index>> ranges) { frozen_ = std::move(ranges); }

  // The next step's learning rate: the constant one, or the table's entry for it.
  double learning_rate_now() const {
    if (rates_.empty()) return config_.learning_rate;
    const std::int64_t i = iterations_ - rates_first_;
    if (i < 0 || i >= static_cast<std::int64_t>(rates_.size()))
      throw std::logic_error("learning rates: none given for step " + std::to_string(iterations_) +
                             " (the table covers steps " + std::to_string(rates_first_) + " to " +
                             std::to_string(rates_first_ + static_cast<std::int64_t>(rates_.size()) - 1) + ")");
    return rates_[static_cast<std::size_t>(i)];
  }

  // State for saving and resuming: the step count, the slot vectors (empty before the first
  // step) and the scalars besides the count that the rule carries from step to step, as Keras
  // keeps them: Nadam's u_product, the product u_1 ... u_t of its momentum schedule (1 when the
  // slots are built; none before).
  const std::vector<Vec<Scalar>>& slots() const { return slots_; }
  std::vector<double> scalars() const {
    if (slots_.empty() || scalar_count() == 0) return {};
    return {u_product_};
  }
  // Replaces the whole state, or (a bad argument) changes nothing. `n`: the parameter count.
  void set_state(std::int64_t iterations, std::vector<Vec<Scalar>> slots, const std::vector<double>& scalars,
                 Index n) {
    if (iterations < 0) throw std::invalid_argument("optimizer state: iterations must be >= 0");
    if (!slots.empty() && static_cast<int>(slots.size()) != slot_count())
      throw std::invalid_argument("optimizer state: expected " + std::to_string(slot_count()) + " slot arrays, got " +
                                  std::to_string(slots.size()));
    for (const auto& v : slots)
      if (v.size() != n)
        throw std::invalid_argument("optimizer state: each slot must hold " + std::to_string(n) + " values");
    const std::size_t wanted = slots.empty() ? 0 : static_cast<std::size_t>(scalar_count());
    if (scalars.size() != wanted)
      throw std::invalid_argument("optimizer state: expected " + std::to_string(wanted) +
                                  " scalar values (Nadam's u_product, with its slots), got " +
                                  std::to_string(scalars.size()));
    for (double u : scalars)  // (a product of factors in [0, 1))
      if (!(u >= 0 && u <= 1))
        throw std::invalid_argument("optimizer state: u_product must be in [0, 1], got " + std::to_string(u));
    slots_ = std::move(slots);
    iterations_ = iterations;
    u_product_ = scalars.empty() ? 1.0 : scalars[0];
  }
  int slot_count() const {
    switch (config_.kind) {
      case OptimizerKind::SGD: return config_.momentum > 0 ? 1 : 0;
      case OptimizerKind::Adam: return config_.amsgrad ? 3 : 2;
      case OptimizerKind::RMSprop: return 1 + (config_.momentum > 0) + config_.centered;
      case OptimizerKind::Adagrad: return 1;
      case OptimizerKind::Adadelta: return 2;
      case OptimizerKind::Nadam: return 2;
      case OptimizerKind::Adamax: return 2;
      case OptimizerKind::Lion: return 1;
      case OptimizerKind::Ftrl: return 2;
      default: return 0;
    }
  }
  int scalar_count() const { return config_.kind == OptimizerKind::Nadam ? 1 : 0; }

  // One step's scalars, fixed by begin_step().
  struct Step {
    Scalar lr;
    Scalar a, b, c;     // the rule's factors for this step (begin_step says which)
    bool built;         // the state was built by this step's begin_step()
    double u_product;  // Nadam's product before this step (put back by cancel_step)
  };

  // w <- update(w, g). w and g are the flat vectors of all trainable parameters.
  void step(VecMap<Scalar> w, const VecMap<Scalar>& g) { finish_step(begin_step(w.size()), w, g, 0, 0); }

  // A step in pieces: begin_step() counts the iteration (and builds the state at the first step);
  // apply() updates w[lo, hi) from g[lo, hi), for a caller that has just computed that part of the
  // gradient (while it is still in cache); finish_step() updates everything else, all but
  // w[skip_lo, skip_hi). Each element gets the same formula as in step().
  Step begin_step(Index n) {
    const double lr = learning_rate_now();  // (may refuse: before anything changes)
    const OptimizerConfig& c = config_;
    if (c.kind == OptimizerKind::Ftrl && !(lr > 0))
      throw std::invalid_argument("Ftrl: learning_rate must be > 0 (its update divides by it), got " +
                                  std::to_string(lr) + " for step " + std::to_string(iterations_));
    const bool built = static_cast<int>(slots_.size()) != slot_count();
    Step s{Scalar(lr), Scalar(0), Scalar(0), Scalar(0), built, u_product_};
    if (built) build(n);
    ++iterations_;
    const double t = static_cast<double>(iterations_), b1 = c.beta_1, b2 = c.beta_2;
    // Each rule's per-step factors (pow calls cost a tenth of a playground step: only where used).
    switch (c.kind) {
      case OptimizerKind::Adam:  // a = lr sqrt(1 - b2^t) / (1 - b1^t)
        s.a = Scalar(lr * std::sqrt(1 - std::pow(b2, t)) / (1 - std::pow(b1, t)));
        break;
      case OptimizerKind::Adamax:  // a = lr / (1 - b1^t)
        s.a = Scalar(lr / (1 - std::pow(keras_cast(b1), t)));
        break;
      case OptimizerKind::Nadam: {
        // Keras's momentum schedule u_t = b1 (1 - 0.5 * 0.96^t) and its running product P_t
        // (multiplied in Keras's order, with b1 and 0.96 as given; u_t with both cast):
        // a = u_{t+1} / (1 - P_t u_{t+1}), b = (1 - u_t) / (1 - P_t), c = 1 / (1 - b2^t).
        const double cast_b1 = keras_cast(b1), decay = keras_cast(0.96);
        const double u_t = cast_b1 * (1 - 0.5 * std::pow(decay, t));
        const double u_next = cast_b1 * (1 - 0.5 * std::pow(decay, t + 1));
        u_product_ = u_product_ * b1 * (1 - 0.5 * std::pow(0.96, t));
        s.a = Scalar(u_next / (1 - u_product_ * u_next));
        s.b = Scalar((1 - u_t) / (1 - u_product_));
        s.c = Scalar(1 / (1 - std::pow(keras_cast(b2), t)));
        break;
      }
      case OptimizerKind::Ftrl:  // a = 1 / lr, b = 2 (l2 + beta / (2 lr))
        s.a = Scalar(1 / lr);
        s.b = Scalar(2 * (c.l2_regularization_strength + c.beta / (2 * lr)));
        break;
      default:
        break;
    }
    return s;
  }
  void apply(const Step& s, Scalar* w, const Scalar* g, Index lo, Index hi) { update(w, g, lo, hi, s); }
  // Forgets a step begun but given up before any update: as if begin_step() had not been called.
  void cancel_step(const Step& s) {
    --iterations_;
    u_product_ = s.u_product;
    if (s.built) slots_.clear();
  }
  void finish_step(const Step& s, VecMap<Scalar> w, const VecMap<Scalar>& g, Index skip_lo, Index skip_hi) {
    Scalar* __restrict wp = w.data();
    const Scalar* __restrict gp = g.data();
    const Index skipped = skip_hi - skip_lo;
    // [lo, hi) count the parameters outside the skipped range.
    for_each_part(w.size() - skipped, kParallelUpdate, [&](Index lo, Index hi) {
      if (lo < skip_lo) update(wp, gp, lo, std::min(hi, skip_lo), s);
      if (hi > skip_lo) update(wp, gp, std::max(lo, skip_lo) + skipped, hi + skipped, s);
    });
  }

 private:
  // update_range over [lo, hi) but the frozen ranges.
  void update(Scalar* wp, const Scalar* gp, Index lo, Index hi, const Step& s) {
    for (const auto& [f0, f1] : frozen_) {
      if (f1 <= lo) continue;
      if (f0 >= hi) break;
      if (f0 > lo) update_range(wp, gp, lo, f0, s);
      lo = f1;
      if (lo >= hi) return;
    }
    update_range(wp, gp, lo, hi, s);
  }

  void update_range(Scalar* __restrict wp, const Scalar* __restrict gp, Index lo, Index hi, const Step& s) {
    const OptimizerConfig& c = config_;
    const Scalar lr = s.lr, alpha = s.a;
    if (c.weight_decay > 0) {
      const Scalar keep = Scalar(1) - lr * Scalar(c.weight_decay);
      for (Index i = lo; i < hi; ++i) wp[i] *= keep;
    }

    switch (c.kind) {
      case OptimizerKind::SGD: {
        if (c.momentum == 0) {
          for (Index i = lo; i < hi; ++i) wp[i] -= lr * gp[i];
          break;
        }
        // m = momentum m - lr g;  w += m  (Nesterov: w += momentum m - lr g)
        const Scalar mu = Scalar(c.momentum);
        Scalar* __restrict m = slots_[0].data();
        if (c.nesterov) {
          for (Index i = lo; i < hi; ++i) {
            m[i] = mu * m[i] - lr * gp[i];
            wp[i] += mu * m[i] - lr * gp[i];
          }
        } else {
          for (Index i = lo; i < hi; ++i) {
            m[i] = mu * m[i] - lr * gp[i];
            wp[i] += m[i];
          }
        }
        break;
      }
      case OptimizerKind::Adam: {
        // alpha = lr sqrt(1 - b2^t) / (1 - b1^t);  m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
        // w -= alpha m / (sqrt(v) + eps)         (Kingma & Ba 2015, Algorithm 1 with eps-hat)
        const Scalar a1 = Scalar(1 - c.beta_1), a2 = Scalar(1 - c.beta_2), eps = Scalar(c.epsilon);
        Scalar* __restrict m = slots_[0].data();
        Scalar* __restrict v = slots_[1].data();
        if (c.amsgrad) {
          Scalar* __restrict vhat = slots_[2].data();
          for (Index i = lo; i < hi; ++i) {
            m[i] += (gp[i] - m[i]) * a1;
            v[i] += (gp[i] * gp[i] - v[i]) * a2;
            vhat[i] = std::max(vhat[i], v[i]);
            wp[i] -= alpha * m[i] / (std::sqrt(vhat[i]) + eps);
          }
        } else {
          for (Index i = lo; i < hi; ++i) {
            m[i] += (gp[i] - m[i]) * a1;
            v[i] += (gp[i] * gp[i] - v[i]) * a2;
            wp[i] -= alpha * m[i] / (std::sqrt(v[i]) + eps);
          }
        }
        break;
      }
      case OptimizerKind::RMSprop: {
        // v = rho v + (1 - rho) g^2;  (centered: a = rho a + (1 - rho) g, denominator v - a^2)
        // step = lr g / sqrt(denominator + eps);  with momentum: m = momentum m + step; w -= m
        const Scalar rho = Scalar(c.rho), eps = Scalar(c.epsilon), mu = Scalar(c.momentum);
        Scalar* __restrict v = slots_[0].data();
        int next = 1;
        Scalar* __restrict mom = c.momentum > 0 ? slots_[next++].data() : nullptr;
        Scalar* __restrict avg = c.centered ? slots_[next++].data() : nullptr;
        for (Index i = lo; i < hi; ++i) {
          v[i] = rho * v[i] + (Scalar(1) - rho) * gp[i] * gp[i];
          Scalar denom = v[i];
          if (avg) {
            avg[i] = rho * avg[i] + (Scalar(1) - rho) * gp[i];
            denom -= avg[i] * avg[i];
          }
          const Scalar inc = lr * gp[i] / std::sqrt(denom + eps);
          if (mom) {
            mom[i] = mu * mom[i] + inc;
            wp[i] -= mom[i];
          } else {
            wp[i] -= inc;
          }
        }
        break;
      }
      case OptimizerKind::Adagrad: {
        // acc += g^2;  w -= lr g / sqrt(acc + eps)
        const Scalar eps = Scalar(c.epsilon);
        Scalar* __restrict acc = slots_[0].data();
        for (Index i = lo; i < hi; ++i) {
          acc[i] += gp[i] * gp[i];
          wp[i] -= lr * gp[i] / std::sqrt(acc[i] + eps);
        }
        break;
      }
      case OptimizerKind::Adadelta: {
        // Zeiler 2012: E[g^2] = rho E[g^2] + (1 - rho) g^2
        // d = -sqrt(E[dx^2] + eps) / sqrt(E[g^2] + eps) g;  E[dx^2] = rho E[dx^2] + (1 - rho) d^2
        // w += lr d
        const Scalar rho = Scalar(c.rho), eps = Scalar(c.epsilon);
        Scalar* __restrict eg = slots_[0].data();
        Scalar* __restrict ed = slots_[1].data();
        for (Index i = lo; i < hi; ++i) {
          eg[i] = rho * eg[i] + (Scalar(1) - rho) * gp[i] * gp[i];
          const Scalar d = -std::sqrt(ed[i] + eps) / std::sqrt(eg[i] + eps) * gp[i];
          ed[i] = rho * ed[i] + (Scalar(1) - rho) * d * d;
          wp[i] += lr * d;
        }
        break;
      }
      case OptimizerKind::Nadam: {
        // Dozat 2016, Keras's form: m += (g - m)(1 - b1);  v += (g^2 - v)(1 - b2)
        // m_hat = u_{t+1} m / (1 - P_{t+1}) + (1 - u_t) g / (1 - P_t) = a m + b g
        // v_hat = v / (1 - b2^t) = c v;  w -= lr m_hat / (sqrt(v_hat) + eps)
        const Scalar a1 = Scalar(1 - keras_cast(c.beta_1)), a2 = Scalar(1 - keras_cast(c.beta_2));
        const Scalar eps = Scalar(c.epsilon);
        Scalar* __restrict m = slots_[0].data();
        Scalar* __restrict v = slots_[1].data();
        for (Index i = lo; i < hi; ++i) {
          m[i] += (gp[i] - m[i]) * a1;
          v[i] += (gp[i] * gp[i] - v[i]) * a2;
          wp[i] -= lr * (s.a * m[i] + s.b * gp[i]) / (std::sqrt(s.c * v[i]) + eps);
        }
        break;
      }
      case OptimizerKind::Adamax: {
        // Kingma & Ba 2015, section 7.1: m += (g - m)(1 - b1);  u = max(b2 u, |g|)
        // w -= lr / (1 - b1^t) m / (u + eps)
        const Scalar a1 = Scalar(1 - c.beta_1), b2 = Scalar(c.beta_2), eps = Scalar(c.epsilon);
        Scalar* __restrict m = slots_[0].data();
        Scalar* __restrict u = slots_[1].data();
        for (Index i = lo; i < hi; ++i) {
          m[i] += (gp[i] - m[i]) * a1;
          u[i] = std::max(b2 * u[i], std::abs(gp[i]));
          wp[i] -= alpha * m[i] / (u[i] + eps);
        }
        break;
      }
      case OptimizerKind::Lion: {
        // Chen et al. 2023: w -= lr sign(b1 m + (1 - b1) g);  m = b2 m + (1 - b2) g
        const double cast_b1 = keras_cast(c.beta_1), cast_b2 = keras_cast(c.beta_2);
        const Scalar b1 = Scalar(cast_b1), a1 = Scalar(1 - cast_b1);
        const Scalar b2 = Scalar(cast_b2), a2 = Scalar(1 - cast_b2);
        Scalar* __restrict m = slots_[0].data();
        for (Index i = lo; i < hi; ++i) {
          const Scalar d = m[i] * b1 + gp[i] * a1;
          wp[i] -= lr * Scalar((d > 0) - (d < 0));
          m[i] = m[i] * b2 + gp[i] * a2;
        }
        break;
      }
      case OptimizerKind::Ftrl: {
        // McMahan et al. 2013, Keras's form with p = -learning_rate_power:
        // g' = g + 2 l2_shrinkage w;  n' = n + g^2;  z += g' - (n'^p - n^p) / lr w
        // w = (clip(z, -l1, l1) - z) / (n'^p / lr + 2 (l2 + beta / (2 lr)));  n = n'
        // (a = 1 / lr, b = 2 (l2 + beta / (2 lr)); square roots for the default p = 0.5)
        const double p = -c.learning_rate_power;
        if (p == 0.5)
          ftrl(wp, gp, lo, hi, s, [](Scalar x) { return std::sqrt(x); });
        else if (p == 0)
          ftrl(wp, gp, lo, hi, s, [](Scalar) { return Scalar(1); });
        else
          ftrl(wp, gp, lo, hi, s, [q = Scalar(p)](Scalar x) { return std::pow(x, q); });
        break;
      }
      default:
        break;
    }
  }

  template <typename Power>
  void ftrl(Scalar* __restrict wp, const Scalar* __restrict gp, Index lo, Index hi, const Step& s, Power power) {
    const OptimizerConfig& c = config_;
    const Scalar shrink = Scalar(2 * c.l2_shrinkage_regularization_strength);
    const Scalar l1 = Scalar(c.l1_regularization_strength);
    Scalar* __restrict n = slots_[0].data();
    Scalar* __restrict z = slots_[1].data();
    for (Index i = lo; i < hi; ++i) {
      const Scalar grown = n[i] + gp[i] * gp[i];
      const Scalar root = power(grown);
      z[i] += (gp[i] + shrink * wp[i]) - (root - power(n[i])) * s.a * wp[i];
      wp[i] = (std::min(std::max(z[i], -l1), l1) - z[i]) / (root * s.a + s.b);
      n[i] = grown;
    }
  }

  void build(Index n) {
    slots_.assign(slot_count(), Vec<Scalar>::Zero(n));
    if (config_.kind == OptimizerKind::Adagrad)
      slots_[0].setConstant(Scalar(config_.initial_accumulator_value));
    if (config_.kind == OptimizerKind::Ftrl)
      slots_[0].setConstant(Scalar(keras_cast(config_.initial_accumulator_value)));
    u_product_ = 1;
  }

  OptimizerConfig config_;
  std::vector<std::pair<Index, Index>> frozen_;
  std::vector<Vec<Scalar>> slots_;  // per-parameter state, each (n_params,)
  std::int64_t iterations_ = 0;
  double u_product_ = 1;  // Nadam: P_t = u_1 ... u_t (scalars())
  std::vector<double> rates_;  // set_learning_rates(): a rate per step from rates_first_ on
  std::int64_t rates_first_ = 0;
};

}  // namespace fastmlp
