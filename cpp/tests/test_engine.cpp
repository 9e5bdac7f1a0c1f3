// C++ unit tests of the engine, without Python: run by ctest (and under the sanitizers).
#include <cmath>
#include <cstdio>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/network.hpp"

using namespace fastmlp;

namespace {

int failures = 0;

void check(bool ok, const std::string& what) {
  if (!ok) {
    ++failures;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

template <typename F>
bool throws_invalid_argument(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument&) {
    return true;
  }
  return false;
}

LayerSpec dense(Index units, Activation f, double l1 = 0, double l2 = 0) {
  LayerSpec s;
  s.kind = LayerKind::Dense;
  s.units = units;
  s.activation = f;
  s.kernel_penalty = {l1, l2};
  s.bias_penalty = {l1, l2};
  return s;
}

// Deterministic pseudo-random fill in [-1, 1).
template <typename Vector>
void fill(Vector& v, std::uint64_t seed) {
  Random r(seed);
  for (Index i = 0; i < v.size(); ++i) v.data()[i] = static_cast<typename Vector::Scalar>(2 * r.uniform() - 1);
}

LayerSpec batch_norm(bool scale, bool center, double l1 = 0, double l2 = 0) {
  LayerSpec s;
  s.kind = LayerKind::BatchNormalization;
  s.scale = scale;
  s.center = center;
  s.kernel_penalty = {l1, l2};  // on gamma
  s.bias_penalty = {l2, l1};    // on beta
  return s;
}

// Central finite differences of the loss against the analytic gradient, in double.
void gradient_check(Network<double>& net, LossKind loss, Index classes, const std::string& name,
                    bool from_logits = false, const LossParams& params = {}) {
  net.set_loss(loss, from_logits, params);
  Vec<double> p(net.param_count());
  fill(p, 11);
  net.params() = p;
  RowMat<double> x(4, 3);
  fill(x, 13);
  const Index ycols = loss == LossKind::SparseCategoricalCrossentropy ? 1 : classes;
  RowMat<double> y(4, ycols);
  const bool one_hot = loss == LossKind::CategoricalCrossentropy || loss == LossKind::CategoricalFocalCrossentropy;
  for (Index i = 0; i < 4; ++i)
    for (Index j = 0; j < ycols; ++j)
      y(i, j) = loss == LossKind::SparseCategoricalCrossentropy ? double(i % classes)
                : one_hot                                        ? double((i % classes) == j)
                                                                 : 0.25 + 0.5 * ((i + j) % 2);
  ConstMatMap<double> X(x.data(), 4, 3), Y(y.data(), 4, ycols);
  net.loss_and_gradient(X, Y);
  Vec<double> g = net.grads();
  Vec<double> fd(p.size());
  const double h = 1e-6;
  for (Index i = 0; i < p.size(); ++i) {
    Vec<double> q = p;
    q(i) += h;
    net.params() = q;
    const double up = net.loss_and_gradient(X, Y);
    q(i) -= 2 * h;
    net.params() = q;
    const double down = net.loss_and_gradient(X, Y);
    fd(i) = (up - down) / (2 * h);
  }
  const double rel = (g - fd).norm() / std::max(1e-12, g.norm() + fd.norm());
  check(rel < 1e-6, name + ": gradient relative error " + std::to_string(rel));
}

void gradient_check(LossKind loss, Activation hidden, Activation out, Index classes, const std::string& name,
                    bool from_logits = false, const LossParams& params = {}) {
  Network<double> net(3, {dense(5, hidden, 0.01, 0.02), dense(classes, out)}, 7);
  gradient_check(net, loss, classes, name, from_logits, params);
}

void test_gradients() {
  gradient_check(LossKind::SparseCategoricalCrossentropy, Activation::Tanh, Activation::Softmax, 3, "sparse CE");
  gradient_check(LossKind::CategoricalCrossentropy, Activation::Sigmoid, Activation::Softmax, 3, "CE");
  gradient_check(LossKind::BinaryCrossentropy, Activation::Elu, Activation::Sigmoid, 2, "BCE");
  gradient_check(LossKind::MeanSquaredError, Activation::Softplus, Activation::Tanh, 2, "MSE");
  gradient_check(LossKind::MeanSquaredError, Activation::Tanh, Activation::Softmax, 3, "softmax + MSE");
  gradient_check(LossKind::Huber, Activation::Tanh, Activation::Linear, 3, "Huber");
  gradient_check(LossKind::LogCosh, Activation::Tanh, Activation::Linear, 3, "LogCosh");
  gradient_check(LossKind::MeanSquaredLogarithmicError, Activation::Tanh, Activation::Softplus, 3, "MSLE");
  gradient_check(LossKind::MeanAbsolutePercentageError, Activation::Tanh, Activation::Linear, 3, "MAPE");
  gradient_check(LossKind::Poisson, Activation::Tanh, Activation::Softplus, 3, "Poisson");
  gradient_check(LossKind::KLDivergence, Activation::Tanh, Activation::Softmax, 3, "KLD");
  gradient_check(LossKind::SquaredHinge, Activation::Tanh, Activation::Linear, 3, "squared hinge");
  gradient_check(LossKind::CategoricalHinge, Activation::Tanh, Activation::Linear, 3, "categorical hinge");
  gradient_check(LossKind::CosineSimilarity, Activation::Tanh, Activation::Linear, 3, "cosine similarity");
  // the focal losses: fused with a sigmoid, on logits, on probabilities; their arguments
  const LossKind focal = LossKind::BinaryFocalCrossentropy, categorical = LossKind::CategoricalFocalCrossentropy;
  const LossParams balanced{1, 0.5, 0.3, true}, plain_ce{1, 0, 0.6, false}, cubed{1, 3, 0.8, true};
  gradient_check(focal, Activation::Tanh, Activation::Sigmoid, 3, "binary focal");
  gradient_check(focal, Activation::Tanh, Activation::Sigmoid, 3, "binary focal balanced", false, balanced);
  gradient_check(focal, Activation::Tanh, Activation::Linear, 3, "binary focal logits", true, cubed);
  gradient_check(focal, Activation::Tanh, Activation::Softmax, 3, "binary focal probabilities", false, balanced);
  gradient_check(focal, Activation::Tanh, Activation::Sigmoid, 2, "binary focal gamma 0", false, plain_ce);
  gradient_check(categorical, Activation::Tanh, Activation::Softmax, 3, "categorical focal");
  gradient_check(categorical, Activation::Tanh, Activation::Softmax, 3, "categorical focal gamma 0.5", false, balanced);
  gradient_check(categorical, Activation::Tanh, Activation::Linear, 3, "categorical focal logits", true, cubed);
  gradient_check(categorical, Activation::Tanh, Activation::Sigmoid, 3, "categorical focal rescaled", false, plain_ce);
  // BatchNormalization with and without gamma and beta, with penalties on those there are
  for (bool scale : {true, false})
    for (bool center : {true, false}) {
      Network<double> net(3, {dense(5, Activation::Linear), batch_norm(scale, center, 0.03, 0.05),
                              dense(3, Activation::Softmax)}, 7);
      const Index weights = (3 * 5 + 5) + (Index(scale) + Index(center) + 2) * 5 + (5 * 3 + 3);
      check(net.param_count() == weights, "BatchNormalization's parameters: Keras's list");
      gradient_check(net, LossKind::SparseCategoricalCrossentropy, 3,
                     std::string("BatchNormalization scale ") + (scale ? "on" : "off") + ", center " +
                         (center ? "on" : "off"));
    }
}

LayerSpec with_params(LayerSpec s, double negative_slope, double max_value, double threshold) {
  s.activation_params.negative_slope = negative_slope;
  s.activation_params.max_value = max_value;
  s.activation_params.threshold = threshold;
  return s;
}

LayerSpec prelu(bool shared, double l1 = 0, double l2 = 0) {
  LayerSpec s;
  s.kind = LayerKind::PRelu;
  s.shared_alpha = shared;
  s.kernel_penalty = {l1, l2};  // on alpha
  return s;
}

// The activations' arguments (Keras's relu, leaky_relu, elu) and PReLU, away from their kinks.
void test_activation_arguments_gradients() {
  const double none = std::numeric_limits<double>::infinity();
  const double relus[][3] = {{0.1, none, 0}, {0, 0.5, 0}, {0, none, 0.2}, {0.3, 0.6, 0.1}, {2.0, 6, 0}};
  for (const auto& r : relus) {
    const std::string name = "relu(" + std::to_string(r[0]) + ", " + std::to_string(r[1]) + ", " +
                             std::to_string(r[2]) + ")";
    Network<double> net(3, {with_params(dense(5, Activation::Relu), r[0], r[1], r[2]), dense(3, Activation::Softmax)},
                        7);
    gradient_check(net, LossKind::SparseCategoricalCrossentropy, 3, name);
    LayerSpec act;  // the same as an Activation layer
    act.kind = LayerKind::Activation;
    act.activation = Activation::Relu;
    Network<double> net2(
        3, {dense(5, Activation::Linear), with_params(act, r[0], r[1], r[2]), dense(2, Activation::Linear)}, 7);
    gradient_check(net2, LossKind::MeanSquaredError, 2, name + " layer");
  }
  for (double slope : {0.0, 0.3, 1.5, -0.5}) {
    LayerSpec s = dense(5, Activation::LeakyRelu);
    s.activation_params.leaky_slope = slope;
    Network<double> net(3, {s, dense(2, Activation::Linear)}, 7);
    gradient_check(net, LossKind::MeanSquaredError, 2, "leaky_relu " + std::to_string(slope));
  }
  for (double alpha : {0.0, 0.5, 2.0, -1.0}) {
    LayerSpec s = dense(5, Activation::Elu);
    s.activation_params.alpha = alpha;
    Network<double> net(3, {s, dense(2, Activation::Linear)}, 7);
    gradient_check(net, LossKind::MeanSquaredError, 2, "elu " + std::to_string(alpha));
  }
  for (bool shared : {false, true}) {
    Network<double> net(3, {dense(5, Activation::Linear), prelu(shared, 0.03, 0.05), dense(3, Activation::Softmax)}, 7);
    check(net.param_count() == (3 * 5 + 5) + (shared ? 1 : 5) + (5 * 3 + 3), "PReLU's alphas");
    gradient_check(net, LossKind::SparseCategoricalCrossentropy, 3, shared ? "PReLU shared" : "PReLU");
  }
  Network<double> first(3, {prelu(false), dense(2, Activation::Linear)}, 7);  // on the inputs
  gradient_check(first, LossKind::MeanSquaredError, 2, "PReLU first");
}

// TensorFlow's derivatives at the kinks (Keras 3's relu through tf.GradientTape): f'(threshold)
// is 0 unless relu is a leaky_relu (the slope), f'(max_value) 1 unless relu is relu6 (0).
void test_relu_kinks() {
  const double none = std::numeric_limits<double>::infinity();
  struct Case {
    double slope, max, threshold, z, value, derivative;
  };
  const Case cases[] = {
      {0, none, 0, 0, 0, 0},        {0.1, none, 0, 0, 0, 0.1},     {0.1, none, 0, -2, -0.2, 0.1},
      {0, 5, 0, 5, 5, 1},           {0, 5, 0, 6, 5, 0},            {0, 6, 0, 6, 6, 0},
      {0.1, 6, 0, 6, 6, 0},         {0.1, 5, 0, 0, 0, 0},          {0, none, 1, 1, 0, 0},
      {0.1, none, 1, 1, 0, 0},      {0.1, none, 1, 0.5, -0.05, 0.1}, {0, 6, 1, 6, 6, 1},
      {0.1, 5, 6, 6, 0, 0},         {0.1, 5, 6, 7, 5, 0},          {0, 0, 0, 0.5, 0, 0},
      {0.3, 0, 0, 0, 0, 0},         {0, 0.5, 0.5, 0.5, 0, 0},      {2, none, 0, -2, -4, 2},
  };
  for (const Case& c : cases) {
    ActivationParams p;
    p.negative_slope = c.slope;
    p.max_value = c.max;
    p.threshold = c.threshold;
    RowMat<double> a(1, 1), g(1, 1), z(1, 1);
    a << c.z;
    z << c.z;
    g << 1.0;
    activate<double>(Activation::Relu, MatMap<double>(a.data(), 1, 1), p);
    MatMap<double> gm(g.data(), 1, 1);
    if (needs_preactivation(Activation::Relu, p))
      activation_backward_z<double>(Activation::Relu, MatMap<double>(z.data(), 1, 1), gm, p);
    else
      activation_backward<double>(Activation::Relu, MatMap<double>(a.data(), 1, 1), gm, p);
    const std::string name = "relu(" + std::to_string(c.slope) + ", " + std::to_string(c.max) + ", " +
                             std::to_string(c.threshold) + ") at " + std::to_string(c.z);
    check(std::abs(a(0, 0) - c.value) < 1e-15, name + ": value " + std::to_string(a(0, 0)));
    check(g(0, 0) == c.derivative, name + ": derivative " + std::to_string(g(0, 0)));
  }
  check(!needs_preactivation(Activation::Relu), "plain relu: from its output");
  check(!needs_preactivation(Activation::LeakyRelu) && !needs_preactivation(Activation::Elu),
        "leaky_relu, elu: from their outputs");
}

void test_softmax_is_stable() {
  RowMat<float> z(1, 3);
  z << 1000.f, -1000.f, 0.f;
  activate<float>(Activation::Softmax, MatMap<float>(z.data(), 1, 3));
  check(std::abs(z(0, 0) - 1.f) < 1e-6f && z(0, 1) == 0.f, "softmax of large logits");
  RowMat<float> s(1, 2);
  s << 1000.f, -1000.f;
  activate<float>(Activation::Sigmoid, MatMap<float>(s.data(), 1, 2));
  check(s(0, 0) == 1.f && s(0, 1) == 0.f && std::isfinite(s(0, 1)), "sigmoid of large inputs");
}

void test_fused_loss_never_takes_log_of_zero() {
  Network<float> net(1, {dense(2, Activation::Softmax)}, 1);
  net.set_loss(LossKind::SparseCategoricalCrossentropy, false);
  net.params() << 500.f, -500.f, 0.f, 0.f;  // logits (500x, -500x)
  RowMat<float> x(1, 1), y(1, 1);
  x << 1.f;
  y << 1.f;  // the improbable class: loss = 1000
  const double loss = net.loss_and_gradient(ConstMatMap<float>(x.data(), 1, 1), ConstMatMap<float>(y.data(), 1, 1));
  check(std::isfinite(loss) && std::abs(loss - 1000.0) < 1e-2, "fused CE at extreme logits: " + std::to_string(loss));
}

// Keras 3's docstring examples of the focal losses, with their formulas written out.
void test_focal_loss_values() {
  auto mean_loss = [](LossKind kind, const LossParams& params, std::vector<double> p, std::vector<double> t,
                      Index k) {
    const Index n = static_cast<Index>(p.size()) / k;
    std::vector<double> g(p.size());
    return compute_loss<double>(kind, LossMode::Probabilities, params, MatMap<double>(p.data(), n, k),
                                ConstMatMap<double>(t.data(), n, k), MatMap<double>(g.data(), n, k)) /
           static_cast<double>(n);
  };
  // y = [[0, 1], [0, 0]], p = [[0.6, 0.4], [0.4, 0.6]]: (1 - p_t)^2 bce, averaged over the outputs
  const double l4 = -std::log(0.4), l6 = -std::log(0.6);
  const double rows[2] = {0.36 * l4, (0.16 * l6 + 0.36 * l4) / 2};
  const std::vector<double> p{0.6, 0.4, 0.4, 0.6}, t{0, 1, 0, 0};
  const double plain = mean_loss(LossKind::BinaryFocalCrossentropy, {}, p, t, 2);
  check(std::abs(plain - (rows[0] + rows[1]) / 2) < 1e-15, "binary focal: " + std::to_string(plain));
  // class balancing: 0.25 for the target 1, 0.75 for the targets 0
  const double weighted = mean_loss(LossKind::BinaryFocalCrossentropy, {1, 2, 0.25, true}, p, t, 2);
  const double rows_w[2] = {(0.75 * 0.36 * l4 + 0.25 * 0.36 * l4) / 2, 0.75 * rows[1]};
  check(std::abs(weighted - (rows_w[0] + rows_w[1]) / 2) < 1e-15, "binary focal balanced: " + std::to_string(weighted));
  // y = [[0, 1, 0], [0, 0, 1]], p = [[0.05, 0.9, 0.05], [0.1, 0.85, 0.05]]: 0.25 (1 - p_y)^2 (-log p_y)
  const double categorical = mean_loss(LossKind::CategoricalFocalCrossentropy, {},
                                       {0.05, 0.9, 0.05, 0.1, 0.85, 0.05}, {0, 1, 0, 0, 0, 1}, 3);
  const double want = 0.25 * (0.01 * -std::log(0.9) + 0.9025 * -std::log(0.05)) / 2;
  check(std::abs(categorical - want) < 1e-15, "categorical focal: " + std::to_string(categorical));
  Network<double> net(2, {dense(2, Activation::Sigmoid)}, 1);
  for (const LossParams& bad : {LossParams{1, -0.5, 0.25, false}, LossParams{1, HUGE_VAL, 0.25, false},
                                LossParams{1, 2, 1.5, true}, LossParams{1, 2, -0.1, false},
                                LossParams{1, 2, std::nan(""), false}})
    for (LossKind kind : {LossKind::BinaryFocalCrossentropy, LossKind::CategoricalFocalCrossentropy})
      check(throws_invalid_argument([&] { net.set_loss(kind, false, bad); }), "focal loss arguments refused");
}

void test_sgd_step() {
  Network<double> net(1, {dense(1, Activation::Linear)}, 1);
  net.set_loss(LossKind::MeanSquaredError, false);
  OptimizerConfig c;
  c.kind = OptimizerKind::SGD;
  c.learning_rate = 0.1;
  net.optimizer().configure(c);
  net.params() << 2.0, 0.5;  // w, b
  RowMat<double> x(1, 1), y(1, 1);
  x << 3.0;
  y << 1.0;
  net.train_on_batch(ConstMatMap<double>(x.data(), 1, 1), ConstMatMap<double>(y.data(), 1, 1));
  // a = 6.5, dL/da = 2 (a - y) = 11: w = 2 - 0.1 * 33, b = 0.5 - 0.1 * 11
  check(std::abs(net.params()(0) - (2.0 - 3.3)) < 1e-12 && std::abs(net.params()(1) - (0.5 - 1.1)) < 1e-12,
        "one SGD step");
}

void test_errors() {
  check(throws_invalid_argument([] { Network<float>(0, {dense(1, Activation::Linear)}, 1); }), "input_dim 0");
  check(throws_invalid_argument([] { Network<float>(2, {}, 1); }), "no layers");
  check(throws_invalid_argument([] { Network<float>(2, {dense(0, Activation::Linear)}, 1); }), "units 0");
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (const auto& r : {std::vector<double>{0, -1, 0}, {0, 1, -1}, {nan, 1, 0}, {0, nan, 0}, {0, -HUGE_VAL, 0}})
    check(throws_invalid_argument(
              [&] { Network<float>(2, {with_params(dense(1, Activation::Relu), r[0], r[1], r[2])}, 1); }),
          "relu arguments");
  LayerSpec leaky = dense(1, Activation::LeakyRelu), elu = dense(1, Activation::Elu);
  leaky.activation_params.leaky_slope = nan;
  elu.activation_params.alpha = HUGE_VAL;
  check(throws_invalid_argument([&] { Network<float>(2, {leaky}, 1); }), "leaky_relu slope NaN");
  check(throws_invalid_argument([&] { Network<float>(2, {elu}, 1); }), "elu alpha infinite");
  check(throws_invalid_argument([] { Network<float>(2, {prelu(false, -1, 0)}, 1); }), "PReLU negative penalty");
  Network<float> net(2, {dense(3, Activation::Softmax)}, 1);
  net.set_loss(LossKind::SparseCategoricalCrossentropy, false);
  RowMat<float> x(2, 3), y(2, 1);
  x.setZero();
  y.setZero();
  check(throws_invalid_argument([&] {
          net.train_on_batch(ConstMatMap<float>(x.data(), 2, 3), ConstMatMap<float>(y.data(), 2, 1));
        }),
        "wrong feature count");
  RowMat<float> x2(2, 2);
  x2.setZero();
  y(1, 0) = 3;  // out of range for 3 classes
  check(throws_invalid_argument([&] {
          net.train_on_batch(ConstMatMap<float>(x2.data(), 2, 2), ConstMatMap<float>(y.data(), 2, 1));
        }),
        "label out of range");
}

// Nadam's u_product is state: a step begun and cancelled gives back the product before it;
// Ftrl refuses a rate of 0 before anything changes; set_state checks the scalars.
void test_optimizer_state_and_refusals() {
  Optimizer<double> opt;
  OptimizerConfig c;
  c.kind = OptimizerKind::Nadam;
  opt.configure(c);
  Vec<double> w = Vec<double>::Constant(3, 1.0), g = Vec<double>::Constant(3, 0.5);
  opt.step(VecMap<double>(w.data(), 3), VecMap<double>(g.data(), 3));
  const double u1 = 0.9 * (1 - 0.5 * 0.96);
  check(opt.scalars().size() == 1 && opt.scalars()[0] == u1, "Nadam: u_product after one step");
  auto s = opt.begin_step(3);
  check(opt.iterations() == 2 && opt.scalars()[0] != u1, "Nadam: the second step multiplies the product");
  opt.cancel_step(s);
  check(opt.iterations() == 1 && opt.scalars()[0] == u1 && opt.slots().size() == 2, "Nadam: cancel_step puts it back");
  check(throws_invalid_argument([&] { opt.set_state(1, opt.slots(), {}, 3); }), "set_state: u_product missing");
  check(throws_invalid_argument([&] { opt.set_state(1, opt.slots(), {1.5}, 3); }), "set_state: u_product > 1");
  opt.set_state(1, opt.slots(), {0.25}, 3);
  check(opt.scalars()[0] == 0.25, "set_state: u_product");

  c.kind = OptimizerKind::Ftrl;
  c.learning_rate = 0;
  opt.configure(c);
  check(throws_invalid_argument([&] { opt.begin_step(3); }) && opt.iterations() == 0 && opt.slots().empty(),
        "Ftrl: learning rate 0 refused before the step");

  c.kind = OptimizerKind::Lion;
  c.learning_rate = 0.1;
  c.beta_1 = 0;
  check(throws_invalid_argument([&] { opt.configure(c); }), "Lion: beta_1 = 0 refused");
  c.beta_1 = 1;  // (allowed: the step follows the momentum alone)
  c.beta_2 = 0.5;
  opt.configure(c);
  w.setConstant(1.0);
  opt.step(VecMap<double>(w.data(), 3), VecMap<double>(g.data(), 3));
  check(w(0) == 1.0 && opt.slots()[0](0) == 0.25, "Lion with beta_1 = 1: sign(m) = 0 at first");
  opt.step(VecMap<double>(w.data(), 3), VecMap<double>(g.data(), 3));
  check(w(0) == 1.0 - 0.1, "Lion: w -= lr sign(m)");
}

void test_same_seed_same_training() {
  auto train = [] {
    Network<float> net(4, {dense(8, Activation::Relu), dense(3, Activation::Softmax)}, 42);
    net.set_loss(LossKind::SparseCategoricalCrossentropy, false);
    OptimizerConfig c;
    net.optimizer().configure(c);
    Vec<float> p(net.param_count());
    fill(p, 3);
    net.params() = p * 0.3f;
    RowMat<float> x(50, 4), y(50, 1);
    fill(x, 5);
    for (Index i = 0; i < 50; ++i) y(i, 0) = float(i % 3);
    for (int epoch = 0; epoch < 3; ++epoch) {
      net.begin_epoch(50, true);
      net.train_steps(ConstMatMap<float>(x.data(), 50, 4), ConstMatMap<float>(y.data(), 50, 1), 8, 1000, 0);
    }
    return Vec<float>(net.params());
  };
  check(train() == train(), "same seed, same weights");
}

// Weighted metrics: counted only when on and given weights; a weight of 2 doubles every count,
// a weight of 0 leaves a row out (exact in double: the counts are whole numbers).
void test_weighted_metrics() {
  Network<double> net(4, {dense(3, Activation::Softmax)}, 1);
  net.set_loss(LossKind::CategoricalCrossentropy, false);
  net.set_accuracy(AccuracyMode::ArgmaxOnehot, 0.5, 0.5);
  net.set_confusion_thresholds({0.3, 0.5});
  net.set_rank_counts(true);
  net.set_max_counts(true);
  Vec<double> p(net.param_count());
  fill(p, 7);
  net.params() = p;
  const Index n = 40;
  RowMat<double> x(n, 4), y(n, 3);
  fill(x, 9);
  y.setZero();
  for (Index i = 0; i < n; ++i) y(i, i % 3) = 1;
  const ConstMatMap<double> X(x.data(), n, 4), Y(y.data(), n, 3);
  std::vector<double> twos(n, 2.0), first_half(n, 0.0);
  for (Index i = 0; i < n / 2; ++i) first_half[static_cast<std::size_t>(i)] = 1.0;
  check(!net.evaluate(X, Y, 16, twos.data()).weighted, "weighted counts only when asked for");
  net.set_weighted_metrics(true);
  check(!net.evaluate(X, Y, 16).weighted, "no weighted counts without weights");
  const Sums plain = net.evaluate(X, Y, 16), doubled = net.evaluate(X, Y, 16, twos.data());
  const MetricSums& d = *doubled.weighted;
  auto twice = [](const std::vector<double>& a, const std::vector<double>& b) {
    if (a.size() != b.size() || a.empty()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
      if (b[i] != 2 * a[i]) return false;
    return true;
  };
  check(d.weight == 2.0 * n && d.correct == 2 * plain.correct && d.compared == 2 * plain.compared,
        "weight 2: accuracy counts doubled");
  check(twice(plain.positive_buckets, d.positive_buckets) &&
            twice(plain.negative_buckets, d.negative_buckets) && twice(plain.ranks, d.ranks) &&
            twice(plain.max_counts, d.max_counts),
        "weight 2: count arrays doubled");
  check(doubled.correct == plain.correct && doubled.positive_buckets == plain.positive_buckets,
        "the plain counts stay unweighted");
  const Sums first =
      net.evaluate(ConstMatMap<double>(x.data(), n / 2, 4), ConstMatMap<double>(y.data(), n / 2, 3), 16);
  const Sums halved = net.evaluate(X, Y, 16, first_half.data());
  const MetricSums& h = *halved.weighted;
  check(h.weight == n / 2 && h.correct == first.correct && h.positive_buckets == first.positive_buckets &&
            h.ranks == first.ranks,
        "weight 0: the row is left out");
}

}  // namespace

int main() {
  test_gradients();
  test_activation_arguments_gradients();
  test_relu_kinks();
  test_softmax_is_stable();
  test_fused_loss_never_takes_log_of_zero();
  test_focal_loss_values();
  test_sgd_step();
  test_errors();
  test_optimizer_state_and_refusals();
  test_same_seed_same_training();
  test_weighted_metrics();
  if (failures) {
    std::printf("%d check(s) failed\n", failures);
    return 1;
  }
  std::printf("all engine checks passed\n");
  return 0;
}
