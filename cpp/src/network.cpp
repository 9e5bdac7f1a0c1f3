// The network's definitions, instantiated once for float and once for double.
#include "fastmlp/network.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <exception>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>

#include "fastmlp/dense.hpp"

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#ifdef FASTMLP_HAVE_OPENMP
#include <omp.h>
#endif

namespace fastmlp {
namespace {

// Without BLAS, Eigen's GEMM splits large products over OpenMP threads in regions of its own:
// their workers are set to flush once (and keep it; with BLAS they are never set).
void flush_eigen_workers(int threads) {
#if defined(FASTMLP_HAVE_OPENMP) && defined(FASTMLP_HAVE_MXCSR)
  static std::atomic<int> prepared{0};
  if (threads > 1 && prepared.load() < threads) {
#pragma omp parallel num_threads(threads)
    if (omp_get_thread_num() != 0) _mm_setcsr(_mm_getcsr() | FlushScope::kFtzDaz);  // (0: the caller)
    prepared.store(threads);
  }
#else
  (void)threads;
#endif
}

// Threads for a batch (Network::threads_for): one below 32 samples or below 1M multiply-adds a
// step (batch x parameters), where a fork/join costs more than it saves; all of them above.
// Measured on 2 idle cores, 2 threads / 1: 0.14M multiply-adds a step 1.11x the time, 0.49M 1.05,
// 1.1M 0.92, 3.8M (the lecture model at batch 32) 0.83, 37M 0.60; on busy cores the small ones
// lost up to 2x. While training, the products split their columns over OpenMP's threads and
// BLAS runs single-threaded in each part (dense.hpp), so that the optimizer's pass can use the same
// threads without two pools fighting for the cores (measured on 2 cores: Adam over OpenMP next to
// OpenBLAS's spinning threads took 16 s per epoch instead of 0.17). predict and evaluate give
// each thread chunks of rows instead (forward_in_chunks); BLAS's own threads are never used.
// On cores shared with other busy processes, set_max_threads(1) is faster.
std::atomic<int> g_max_threads{0};  // 0: as many as OpenMP offers
// Set in the child of a fork(): GNU OpenMP's thread pool does not survive a fork (the child's
// next parallel region waits forever for the parent's workers), so a forked child computes on
// one thread. pthread_atfork runs the handler in the child only.
std::atomic<bool> g_forked{false};
#if defined(__unix__) || defined(__APPLE__)
const int g_fork_handler = pthread_atfork(nullptr, nullptr, [] { g_forked.store(true); });
#endif
constexpr Index kParallelBatch = 32;
std::atomic<std::int64_t> g_parallel_work{1 << 20};  // multiply-adds a step; set_parallel_work()

// Sparse first layers (sparse.hpp): only for inputs at least this wide, and batches with at most
// this share of nonzeros. Measured on MNIST-shaped products (AVX2, one
// core): a nonzero costs about 3x what one element of a dense GEMM costs, so the sparse path wins
// below ~30% nonzeros; MNIST has 19%.
std::atomic<bool> g_sparse_inputs{true};
constexpr Index kSparseMinInputs = 32;
constexpr double kSparseDensity = 0.25;
// A sparse batch is split over the step's threads from this many rows per thread up; predict
// compresses at most kSparsePredictRows at a time.
constexpr Index kSparseRowsPerThread = 8, kSparsePredictRows = 4096;
constexpr Index kSplitForwardRatio = 4;  // input columns per batch row of a split forward, at least
// With more than one thread, predict and evaluate take inputs (sparse or not) through all layers
// in chunks of this many rows per thread (forward_in_chunks): a chunk's outputs stay in its cache.
constexpr Index kSparseChunkRows = 256;
constexpr int kDenseBatches = 4;  // (train_steps)
constexpr const char* kNonFiniteX = "x contains NaN or infinity; clean or impute it first";

class ThreadScope {
 public:
  explicit ThreadScope(int threads) : saved_(step_threads()) {
    step_threads() = threads;
#ifdef FASTMLP_HAVE_OPENMP
    Eigen::setNbThreads(threads);  // for Eigen's own products (no BLAS loaded)
    FlushScope::workers_end_unflushed().store(blas::available(), std::memory_order_relaxed);
    if (!blas::available()) flush_eigen_workers(threads);
#endif
    split_products() = true;  // the products split their columns over the engine's threads
    blas::set_threads(1);     // and BLAS runs single-threaded in each part (dense.hpp)
  }
  ~ThreadScope() {
    split_products() = true;
    step_threads() = saved_;
  }
  ThreadScope(const ThreadScope&) = delete;
  ThreadScope& operator=(const ThreadScope&) = delete;

 private:
  int saved_;
};

// Inside a parallel region: products of this thread's own rows, by BLAS on this thread (not
// split over the team), until the end of the scope.
class OwnProducts {
 public:
  OwnProducts() {
    split_products() = false;
    blas::set_threads(1);
  }
  ~OwnProducts() { split_products() = true; }
  OwnProducts(const OwnProducts&) = delete;
  OwnProducts& operator=(const OwnProducts&) = delete;
};

// Work shared by a parallel region that may throw: run() runs a piece on the calling thread
// unless a piece has failed already (the others skip theirs; the threads still meet at every
// barrier); rethrow() raises the first failure once the region is over. An exception must not
// leave an OpenMP region.
class FirstError {
 public:
  template <typename Work>
  void run(Work&& work) {
    if (failed_.load()) return;
    try {
      work();
    } catch (...) {
#pragma omp critical(fastmlp_first_error)
      if (!error_) error_ = std::current_exception();
      failed_ = true;
    }
  }
  void rethrow() const {
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::atomic<bool> failed_{false};
  std::exception_ptr error_;
};

// Adds the metric counts of a part of the rows (not the loss, steps or samples).
void add_counts(MetricSums& s, const MetricSums& part) {
  s.correct += part.correct;
  s.compared += part.compared;
  s.squared_error += part.squared_error;
  s.absolute_error += part.absolute_error;
  s.weight += part.weight;
  auto add = [](std::vector<double>& to, const std::vector<double>& from) {
    if (to.empty()) {
      to = from;
    } else {
      for (std::size_t i = 0; i < from.size(); ++i) to[i] += from[i];
    }
  };
  add(s.positive_buckets, part.positive_buckets);
  add(s.negative_buckets, part.negative_buckets);
  add(s.ranks, part.ranks);
  add(s.max_counts, part.max_counts);
}

void add_counts(Sums& s, const Sums& part) {
  add_counts(static_cast<MetricSums&>(s), part);
  if (part.weighted) add_counts(s.weighted ? *s.weighted : s.weighted.emplace(), *part.weighted);
}

// Points p at v for the scope, at nullptr again after it (also when it throws).
template <typename T>
class PointFor {
 public:
  PointFor(T*& p, T* v) : p_(p) { p_ = v; }
  ~PointFor() { p_ = nullptr; }
  PointFor(const PointFor&) = delete;
  PointFor& operator=(const PointFor&) = delete;

 private:
  T*& p_;
};

std::string shape_str(Index r, Index c) { return "(" + std::to_string(r) + ", " + std::to_string(c) + ")"; }

}  // namespace

template <typename Scalar>
Network<Scalar>::Network(Index input_dim, std::vector<LayerSpec> specs, std::uint64_t seed)
    : input_dim_(input_dim), rng_(seed) {
  if (input_dim <= 0)
    throw std::invalid_argument("Network: input_dim must be > 0, got " + std::to_string(input_dim));
  if (specs.empty()) throw std::invalid_argument("Network: at least one layer is required");
  Index width = input_dim, offset = 0;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    Layer L;
    L.spec = specs[i];
    L.in = width;
    const std::string where = "layer " + std::to_string(i) + ": ";
    switch (L.spec.kind) {
      case LayerKind::Dense:
        if (L.spec.units <= 0)
          throw std::invalid_argument(where + "Dense units must be > 0, got " + std::to_string(L.spec.units));
        validate(L.spec.kernel_penalty, "kernel_regularizer");
        validate(L.spec.bias_penalty, "bias_regularizer");
        validate_activation(L.spec.activation, L.spec.activation_params, where);
        L.out = L.spec.units;
        L.w_offset = offset;
        offset += L.in * L.out;
        if (L.spec.use_bias) {
          L.b_offset = offset;
          offset += L.out;
        }
        break;
      case LayerKind::Activation:
        validate_activation(L.spec.activation, L.spec.activation_params, where);
        L.out = L.in;
        break;
      case LayerKind::Dropout:
        if (!(L.spec.rate >= 0 && L.spec.rate < 1))
          throw std::invalid_argument(where + "Dropout rate must be in [0, 1), got " + std::to_string(L.spec.rate));
        L.out = L.in;
        break;
      case LayerKind::Normalization:  // mean (in), variance (in), count (1)
        L.out = L.in;
        L.w_offset = offset;
        offset += 2 * L.in + 1;
        break;
      case LayerKind::BatchNormalization:  // [gamma], [beta] (trained); moving mean, variance (not)
        if (!(L.spec.momentum >= 0 && L.spec.momentum <= 1) || !(L.spec.epsilon > 0) || !std::isfinite(L.spec.epsilon))
          throw std::invalid_argument(where + "BatchNormalization: momentum must be in [0, 1] and epsilon > 0");
        validate(L.spec.kernel_penalty, "gamma_regularizer");
        validate(L.spec.bias_penalty, "beta_regularizer");
        L.out = L.in;
        if (L.spec.scale) {
          L.w_offset = offset;
          offset += L.in;
        }
        if (L.spec.center) {
          L.b_offset = offset;
          offset += L.in;
        }
        L.stats_offset = offset;
        offset += 2 * L.in;
        break;
      case LayerKind::PRelu:  // alpha (trained)
        validate(L.spec.kernel_penalty, "alpha_regularizer");
        L.out = L.in;
        L.w_offset = offset;
        offset += prelu_alphas(L);
        break;
      default:
        throw std::invalid_argument(where + "unknown layer kind");
    }
    width = L.out;
    widths_.push_back(L.out);
    layers_.push_back(L);
  }
  params_ = Vec<Scalar>::Zero(offset);
  grads_ = Vec<Scalar>::Zero(offset);
  set_frozen_layers({});  // (the parameters no step changes: Normalization's, moving statistics)
  acts_.resize(layers_.size());
  gacts_.resize(layers_.size());
  masks_.resize(layers_.size());
  pres_.resize(layers_.size());
  batch_stats_.resize(layers_.size());
  for (std::size_t l = 0; l < layers_.size(); ++l)
    if (layers_[l].spec.kind == LayerKind::BatchNormalization)
      batch_stats_[l].assign(static_cast<std::size_t>(3 * layers_[l].in), Scalar(0));
  set_loss(loss_, false, loss_params_);
}

template <typename Scalar>
int Network<Scalar>::threads_for(Index rows) const {
  return rows >= kParallelBatch && rows * params_.size() >= g_parallel_work.load() ? max_threads() : 1;
}

template <typename Scalar>
Index Network<Scalar>::target_dim() const {
  return loss_ == LossKind::SparseCategoricalCrossentropy ? 1 : output_dim();
}

template <typename Scalar>
void Network<Scalar>::set_loss(LossKind kind, bool from_logits, const LossParams& params) {
  if (kind == LossKind::SparseCategoricalCrossentropy && output_dim() < 2)
    throw std::invalid_argument("sparse_categorical_crossentropy needs an output layer with >= 2 units, got " +
                                std::to_string(output_dim()));
  validate_loss(kind, params);
  loss_ = kind;
  from_logits_ = from_logits;
  loss_params_ = params;
  const Layer& last = layers_.back();
  const bool has_act = last.spec.kind != LayerKind::Dropout;
  const Activation f = last.spec.activation;
  const bool ce = kind == LossKind::SparseCategoricalCrossentropy || kind == LossKind::CategoricalCrossentropy;
  // (the binary focal loss reads the logits behind a sigmoid, as Keras's on TensorFlow does; the
  // categorical one reads the softmax's probabilities, as Keras's)
  const bool bce = kind == LossKind::BinaryCrossentropy || kind == LossKind::BinaryFocalCrossentropy;
  if (!from_logits && has_act && ((ce && f == Activation::Softmax) || (bce && f == Activation::Sigmoid)))
    mode_ = LossMode::Fused;
  else if (from_logits || kind == LossKind::Logistic)
    mode_ = LossMode::Logits;
  else
    mode_ = LossMode::Probabilities;
}

template <typename Scalar>
void Network<Scalar>::set_accuracy(AccuracyMode mode, double output_threshold, double target_threshold) {
  accuracy_ = mode;
  out_threshold_ = Scalar(output_threshold);
  target_threshold_ = Scalar(target_threshold);
}

template <typename Scalar>
void Network<Scalar>::set_confusion_thresholds(const std::vector<double>& thresholds, double positive_above) {
  for (std::size_t i = 0; i < thresholds.size(); ++i)
    if (!std::isfinite(thresholds[i]) || (i > 0 && !(thresholds[i - 1] <= thresholds[i])))
      throw std::invalid_argument("confusion thresholds: expected finite values in ascending order");
  thresholds_.assign(thresholds.begin(), thresholds.end());
  positive_above_ = Scalar(positive_above);
  // A grid of 4 cells per threshold over [first, last]: cell c starts at how many thresholds lie
  // below its left end (a binary search per output would cost ~45 ns; this, a few)
  grid_.assign(std::max<std::size_t>(4 * thresholds_.size(), 1), 0);
  if (thresholds_.empty()) return;
  grid_low_ = static_cast<double>(thresholds_.front());
  const double span = static_cast<double>(thresholds_.back()) - grid_low_;
  grid_scale_ = span > 0 ? static_cast<double>(grid_.size()) / span : 0.0;
  for (std::size_t c = 0; c < grid_.size(); ++c) {
    const double left = grid_low_ + static_cast<double>(c) / std::max(grid_scale_, 1e-300);
    grid_[c] = static_cast<Index>(std::lower_bound(thresholds_.begin(), thresholds_.end(), left,
                                                   [](Scalar t, double v) { return static_cast<double>(t) < v; }) -
                                  thresholds_.begin());
  }
}

template <typename Scalar>
void Network<Scalar>::set_error_metrics(bool squared, bool absolute) {
  squared_metric_ = squared;
  absolute_metric_ = absolute;
}

template <typename Scalar>
void Network<Scalar>::set_error_targets(double scale, double offset) {
  error_scale_ = Scalar(scale);
  error_offset_ = Scalar(offset);
}

template <typename Scalar>
void Network<Scalar>::set_frozen_layers(const std::vector<Index>& frozen) {
  for (Index l : frozen)
    if (l < 0 || l >= static_cast<Index>(layers_.size()))
      throw std::invalid_argument("frozen: expected layer indices in [0, " + std::to_string(layers_.size()) +
                                  "), got " + std::to_string(l));
  std::vector<std::pair<Index, Index>> ranges;  // the frozen parameters, for the optimizer
  auto freeze = [&](Index begin, Index end) {
    if (end <= begin) return;
    if (!ranges.empty() && ranges.back().second == begin)
      ranges.back().second = end;  // next to the frozen range before
    else
      ranges.emplace_back(begin, end);
  };
  for (Index l = 0; l < static_cast<Index>(layers_.size()); ++l) {
    Layer& L = layers_[static_cast<std::size_t>(l)];
    L.trainable = std::find(frozen.begin(), frozen.end(), l) == frozen.end();
    if (!L.trainable) freeze(trained_params(L).first, trained_params(L).second);
    freeze(fixed_params(L).first, fixed_params(L).second);
  }
  optimizer_.set_frozen(std::move(ranges));
}

template <typename Scalar>
std::pair<Index, Index> Network<Scalar>::trained_params(const Layer& L) {
  switch (L.spec.kind) {
    case LayerKind::Dense: return {L.w_offset, L.b_offset >= 0 ? L.b_offset + L.out : L.w_offset + L.in * L.out};
    case LayerKind::BatchNormalization: {  // those of gamma, beta there are: before the moving ones
      const Index there = Index(L.spec.scale) + Index(L.spec.center);
      return {L.stats_offset - there * L.in, L.stats_offset};
    }
    case LayerKind::PRelu: return {L.w_offset, L.w_offset + prelu_alphas(L)};
    default: return {0, 0};
  }
}

template <typename Scalar>
std::pair<Index, Index> Network<Scalar>::fixed_params(const Layer& L) {
  switch (L.spec.kind) {
    case LayerKind::Normalization: return {L.w_offset, L.w_offset + 2 * L.in + 1};           // mean, variance, count
    case LayerKind::BatchNormalization: return {L.stats_offset, L.stats_offset + 2 * L.in};  // moving ones
    default: return {0, 0};
  }
}

template <typename Scalar>
std::array<typename Network<Scalar>::Variable, 2> Network<Scalar>::variables(const Layer& L) {
  const bool dense = L.spec.kind == LayerKind::Dense, bn = L.spec.kind == LayerKind::BatchNormalization;
  if (L.spec.kind == LayerKind::PRelu)
    return {Variable{L.w_offset, prelu_alphas(L), L.spec.kernel_penalty}, Variable{-1, 0, L.spec.bias_penalty}};
  return {Variable{dense || bn ? L.w_offset : -1, dense ? L.in * L.out : L.in, L.spec.kernel_penalty},
          Variable{dense || bn ? L.b_offset : -1, L.out, L.spec.bias_penalty}};
}

template <typename Scalar>
bool Network<Scalar>::trainable(Index layer) const {
  if (layer < 0 || layer >= static_cast<Index>(layers_.size()))
    throw std::invalid_argument("layer: expected an index in [0, " + std::to_string(layers_.size()) + "), got " +
                                std::to_string(layer));
  return layers_[static_cast<std::size_t>(layer)].trainable;
}

template <typename Scalar>
bool Network<Scalar>::any_frozen() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const Layer& L) { return !L.trainable; });
}

template <typename Scalar>
bool Network<Scalar>::trains() const {
  return std::any_of(layers_.begin(), layers_.end(), [](const Layer& L) {
    const auto [begin, end] = trained_params(L);
    return L.trainable && end > begin;
  });
}

template <typename Scalar>
void Network<Scalar>::zero_frozen_gradients() {
  for (const Layer& L : layers_) {
    if (L.trainable) continue;
    const auto [begin, end] = trained_params(L);
    std::fill(grads_.data() + begin, grads_.data() + end, Scalar(0));
  }
}

template <typename Scalar>
void Network<Scalar>::set_clipping(double clipnorm, double clipvalue, double global_clipnorm) {
  for (double v : {clipnorm, clipvalue, global_clipnorm})
    if (!(v >= 0) || !std::isfinite(v)) throw std::invalid_argument("clipping values must be finite and >= 0");
  clipnorm_ = clipnorm;
  clipvalue_ = clipvalue;
  global_clipnorm_ = global_clipnorm;
}

template <typename Scalar>
void Network<Scalar>::reserve(Index batch) {
  if (batch <= capacity_) return;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    acts_[l].assign(static_cast<std::size_t>(batch * layers_[l].out), Scalar(0));
    gacts_[l].assign(static_cast<std::size_t>(batch * layers_[l].out), Scalar(0));
    if (layers_[l].spec.kind == LayerKind::Dropout)
      masks_[l].assign(static_cast<std::size_t>(batch * layers_[l].out), Scalar(1));
    const LayerSpec& spec = layers_[l].spec;
    // z of the activations activate_keeping_z keeps (Dense and Activation layers), x normalized
    // of a BatchNormalization
    if (((spec.kind == LayerKind::Dense || spec.kind == LayerKind::Activation) &&
         needs_preactivation(spec.activation, spec.activation_params)) ||
        spec.kind == LayerKind::BatchNormalization)
      pres_[l].assign(static_cast<std::size_t>(batch * layers_[l].out), Scalar(0));
  }
  xbuf_.assign(static_cast<std::size_t>(batch * input_dim_), Scalar(0));
  ybuf_.assign(static_cast<std::size_t>(batch * output_dim()), Scalar(0));
  wbuf_.assign(static_cast<std::size_t>(batch), Scalar(0));
  capacity_ = batch;
}

template <typename Scalar>
void Network<Scalar>::check_xy(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>* y) const {
  if (x.cols() != input_dim_)
    throw std::invalid_argument("x: expected " + std::to_string(input_dim_) + " features, got shape " +
                                shape_str(x.rows(), x.cols()));
  if (x.rows() == 0) throw std::invalid_argument("x: expected at least one sample, got 0");
  if (y) {
    if (y->rows() != x.rows())
      throw std::invalid_argument("y: expected " + std::to_string(x.rows()) + " rows (one per sample of x), got " +
                                  std::to_string(y->rows()));
    if (y->cols() != target_dim())
      throw std::invalid_argument("y: expected " + std::to_string(target_dim()) + " columns for this loss, got " +
                                  std::to_string(y->cols()));
    // The accuracy rule reads y as labels or as one target per output: it must fit the loss's y.
    const bool per_output = accuracy_ == AccuracyMode::ArgmaxOnehot || accuracy_ == AccuracyMode::Threshold ||
                            !thresholds_.empty();
    if ((per_output && target_dim() != output_dim()) || (accuracy_ == AccuracyMode::ArgmaxSparse && target_dim() != 1))
      throw std::invalid_argument("metrics: the accuracy reads " +
                                  std::string(per_output ? "one target per output" : "one class label per sample") +
                                  ", but this loss's y has " + std::to_string(target_dim()) + " column(s)");
  }
}

template <typename Scalar>
void Network<Scalar>::forward(const Scalar* x, Index n, bool training, bool defer_last, bool check_finite, Index row0,
                              const SparseBatch::Part* part, bool summed) {
  const Scalar* in = x;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    ConstMatMap<Scalar> xin(in, n, L.in);
    MatMap<Scalar> a(acts_[l].data() + row0 * L.out, n, L.out);
    const bool last = l + 1 == layers_.size();
    // A NaN or infinity in x makes its row of x W (+ b) NaN or infinite (x_j W_jk is NaN or +-inf,
    // also for W_jk = 0), so the (n, out) product is checked instead of the (n, in) input; x
    // itself is read again only when the product is not finite (it may have overflowed).
    const bool check_here = check_finite && l == 0;
    if (check_here && L.spec.kind != LayerKind::Dense && !xin.allFinite())
      throw std::invalid_argument(kNonFiniteX);
    switch (L.spec.kind) {
      case LayerKind::Dense: {
        // A sparse first layer applies a plain relu as it stores its outputs (not where the
        // product is checked: relu would hide -inf).
        const bool sparse = l == 0 && (part || sparse_active_);
        const bool relu_here = sparse && !check_here && !(last && defer_last) &&
                               L.spec.activation == Activation::Relu && L.spec.activation_params.plain_relu();
        if (sparse)
          sparse_first_forward(a, part, relu_here, summed);
        else
          dense_forward<Scalar>(xin, weights(L), L.b_offset >= 0 ? params_.data() + L.b_offset : nullptr, a);
        if (check_here && !a.allFinite() && !xin.allFinite())
          throw std::invalid_argument(kNonFiniteX);
        if (!(last && defer_last) && !relu_here) activate_keeping_z(l, a, row0, training);
        break;
      }
      case LayerKind::Activation:
        a = xin;
        if (!(last && defer_last)) activate_keeping_z(l, a, row0, training);
        break;
      case LayerKind::Normalization: {
        const RowVec<Scalar> sd = normalization_scale(L);
        const Scalar* mean = params_.data() + L.w_offset;
        for (Index i = 0; i < n; ++i)
          for (Index j = 0; j < L.in; ++j)
            a(i, j) = L.spec.invert ? mean[j] + xin(i, j) * sd[j] : (xin(i, j) - mean[j]) / sd[j];
        break;
      }
      case LayerKind::BatchNormalization:
        batch_norm_forward(l, xin, a, training, row0);
        break;
      case LayerKind::PRelu:
        prelu_forward(L, xin, a);
        break;
      case LayerKind::Dropout: {
        if (!training || L.spec.rate == 0) {
          a = xin;
          break;
        }
        // Inverted dropout: keep with probability 1 - rate and scale by 1 / (1 - rate).
        MatMap<Scalar> mask(masks_[l].data() + row0 * L.out, n, L.out);
        const Scalar scale = Scalar(1) / Scalar(1 - L.spec.rate);
        Scalar* m = mask.data();
        for (Index i = 0, size = n * L.out; i < size; ++i)
          m[i] = rng_.uniform() >= L.spec.rate ? scale : Scalar(0);
        a.array() = xin.array() * mask.array();
        break;
      }
    }
    in = a.data();
  }
}

template <typename Scalar>
void Network<Scalar>::activate_keeping_z(std::size_t l, MatMap<Scalar> a, Index row0, bool training) {
  const Layer& L = layers_[l];
  if (training && needs_preactivation(L.spec.activation, L.spec.activation_params))  // (only a backward pass reads z)
    MatMap<Scalar>(pres_[l].data() + row0 * L.out, a.rows(), L.out) = a;
  activate<Scalar>(L.spec.activation, a, L.spec.activation_params);
}

template <typename Scalar>
void Network<Scalar>::activation_grad(std::size_t l, const MatMap<Scalar>& a, MatMap<Scalar> g, Index row0) {
  const Layer& L = layers_[l];
  const ActivationParams& p = L.spec.activation_params;
  if (needs_preactivation(L.spec.activation, p))
    activation_backward_z<Scalar>(L.spec.activation, MatMap<Scalar>(pres_[l].data() + row0 * L.out, a.rows(), L.out), g,
                                  p);
  else
    activation_backward<Scalar>(L.spec.activation, a, g, p);
}

template <typename Scalar>
RowVec<Scalar> Network<Scalar>::normalization_scale(const Layer& L) const {
  // max(sqrt(variance), epsilon), Keras's divisor (epsilon: its backend.epsilon(), 1e-7)
  RowVec<Scalar> sd(L.in);
  const Scalar* variance = params_.data() + L.w_offset + L.in;
  for (Index j = 0; j < L.in; ++j) sd[j] = std::max(std::sqrt(std::max(variance[j], Scalar(0))), Scalar(1e-7));
  return sd;
}

template <typename Scalar>
Scalar Network<Scalar>::batch_norm_gamma(const Layer& L, Index j) const {
  return L.w_offset >= 0 ? params_[L.w_offset + j] : Scalar(1);  // (scale off: 1)
}

template <typename Scalar>
Scalar Network<Scalar>::batch_norm_beta(const Layer& L, Index j) const {
  return L.b_offset >= 0 ? params_[L.b_offset + j] : Scalar(0);  // (center off: 0)
}

template <typename Scalar>
Scalar Network<Scalar>::batch_norm_moving_scale(const Layer& L, Index j) const {
  // gamma / sqrt(moving variance + epsilon)
  return batch_norm_gamma(L, j) / std::sqrt(params_[L.stats_offset + L.in + j] + Scalar(L.spec.epsilon));
}

template <typename Scalar>
void Network<Scalar>::batch_norm_forward(std::size_t l, const ConstMatMap<Scalar>& x, MatMap<Scalar> a, bool training,
                                         Index row0) {
  const Layer& L = layers_[l];
  const Index n = x.rows(), in = L.in;
  const Scalar* moving_mean = params_.data() + L.stats_offset;
  if (!(training && L.trainable)) {  // the moving statistics (predict's chunks: each its rows)
    for (Index j = 0; j < in; ++j) {
      const Scalar scale = batch_norm_moving_scale(L, j), beta = batch_norm_beta(L, j);
      for (Index i = 0; i < n; ++i) a(i, j) = (x(i, j) - moving_mean[j]) * scale + beta;
    }
    return;
  }
  // the batch's (row0 is 0: batch statistics take the whole batch on one thread)
  Scalar *mean = batch_stats_[l].data(), *var = mean + in, *inv_std = mean + 2 * in;
  MatMap<Scalar> xhat(pres_[l].data() + row0 * in, n, in);
  for (Index j = 0; j < in; ++j) {
    double sum = 0, squares = 0;
    for (Index i = 0; i < n; ++i) sum += static_cast<double>(x(i, j));
    const double mu = sum / static_cast<double>(n);
    for (Index i = 0; i < n; ++i) {
      const double d = static_cast<double>(x(i, j)) - mu;
      squares += d * d;
    }
    mean[j] = Scalar(mu);
    var[j] = Scalar(squares / static_cast<double>(n));
    inv_std[j] = Scalar(1 / std::sqrt(squares / static_cast<double>(n) + L.spec.epsilon));
    const Scalar gamma = batch_norm_gamma(L, j), beta = batch_norm_beta(L, j);
    for (Index i = 0; i < n; ++i) {
      xhat(i, j) = (x(i, j) - mean[j]) * inv_std[j];
      a(i, j) = gamma * xhat(i, j) + beta;
    }
  }
}

template <typename Scalar>
void Network<Scalar>::batch_norm_backward(std::size_t l, const MatMap<Scalar>& g, Scalar* g_in, Scalar* gp, Index n) {
  const Layer& L = layers_[l];
  const Index in = L.in;
  Scalar* dgamma = L.w_offset >= 0 ? gp + L.w_offset : nullptr;  // (nullptr: not there)
  Scalar* dbeta = L.b_offset >= 0 ? gp + L.b_offset : nullptr;
  std::fill(gp + L.stats_offset, gp + L.stats_offset + 2 * in, Scalar(0));  // moving statistics: none
  if (!L.trainable) {  // frozen: it computed with the moving statistics, a fixed affine map
    const auto [begin, end] = trained_params(L);
    std::fill(gp + begin, gp + end, Scalar(0));
    if (g_in)
      for (Index j = 0; j < in; ++j) {
        const Scalar scale = batch_norm_moving_scale(L, j);
        for (Index i = 0; i < n; ++i) g_in[i * in + j] = g(i, j) * scale;
      }
    return;
  }
  const Scalar* inv_std = batch_stats_[l].data() + 2 * in;
  const MatMap<Scalar> xhat(pres_[l].data(), n, in);
  for (Index j = 0; j < in; ++j) {
    double sum_g = 0, sum_gx = 0;
    for (Index i = 0; i < n; ++i) {
      sum_g += static_cast<double>(g(i, j));
      sum_gx += static_cast<double>(g(i, j)) * static_cast<double>(xhat(i, j));
    }
    if (dgamma) dgamma[j] = Scalar(sum_gx);
    if (dbeta) dbeta[j] = Scalar(sum_g);
    if (!g_in) continue;
    // dx = gamma / std / n (n g - sum g - xhat sum(g xhat))
    const Scalar k = batch_norm_gamma(L, j) * inv_std[j] / Scalar(n), mg = Scalar(sum_g), mgx = Scalar(sum_gx);
    for (Index i = 0; i < n; ++i) g_in[i * in + j] = k * (Scalar(n) * g(i, j) - mg - xhat(i, j) * mgx);
  }
}

template <typename Scalar>
void Network<Scalar>::update_moving_statistics() {
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    if (L.spec.kind != LayerKind::BatchNormalization || !L.trainable) continue;
    Scalar *moving_mean = params_.data() + L.stats_offset, *moving_var = moving_mean + L.in;
    const Scalar *mean = batch_stats_[l].data(), *var = mean + L.in;
    const Scalar m = Scalar(L.spec.momentum);
    for (Index j = 0; j < L.in; ++j) {  // Keras: moving * momentum + batch * (1 - momentum)
      moving_mean[j] = moving_mean[j] * m + mean[j] * (Scalar(1) - m);
      moving_var[j] = moving_var[j] * m + var[j] * (Scalar(1) - m);
    }
  }
}

template <typename Scalar>
void Network<Scalar>::prelu_forward(const Layer& L, const ConstMatMap<Scalar>& x, MatMap<Scalar> a) const {
  // a = x above 0, alpha x at and below it (Keras's relu(x) - alpha relu(-x): the same numbers)
  const Scalar* alpha = params_.data() + L.w_offset;
  const Index step = L.spec.shared_alpha ? 0 : 1;  // alpha[j * step]
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < L.in; ++j) {
      const Scalar v = x(i, j);
      a(i, j) = v > Scalar(0) ? v : alpha[j * step] * v;
    }
}

template <typename Scalar>
void Network<Scalar>::prelu_backward(const Layer& L, const ConstMatMap<Scalar>& x, const MatMap<Scalar>& g,
                                     Scalar* g_in, Scalar* gp) const {
  // d/dalpha_j = sum_i g_ij min(x_ij, 0); d/dx = g above 0, alpha g below, 0 at x = 0 (TensorFlow's
  // relu'(0) = 0 on both of Keras's parts)
  const Scalar* alpha = params_.data() + L.w_offset;
  Scalar* dalpha = gp + L.w_offset;
  const Index step = L.spec.shared_alpha ? 0 : 1;
  std::fill(dalpha, dalpha + prelu_alphas(L), Scalar(0));
  for (Index i = 0; i < x.rows(); ++i)
    for (Index j = 0; j < L.in; ++j) {
      const Scalar v = x(i, j), gij = g(i, j);
      if (v < Scalar(0)) dalpha[j * step] += gij * v;
      if (g_in) g_in[i * L.in + j] = v > Scalar(0) ? gij : v < Scalar(0) ? alpha[j * step] * gij : Scalar(0);
    }
}

template <typename Scalar>
bool Network<Scalar>::sparse_wanted() const {
  return std::is_same_v<Scalar, float> && kSparseKernels && g_sparse_inputs.load() &&
         layers_[0].spec.kind == LayerKind::Dense && input_dim_ >= kSparseMinInputs;
}

template <typename Scalar>
template <typename RowOf>
bool Network<Scalar>::use_sparse(RowOf row_of, Index n, bool in_order, bool* finite) {
  sparse_active_ = false;
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
  if constexpr (std::is_same_v<Scalar, float>) {
    // Positions in the by-column copy are int32: a batch too large for them stays dense.
    if (!sparse_wanted() ||
        kSparseDensity * static_cast<double>(n) * static_cast<double>(input_dim_) >= 1.5e9)
      return false;
    // One part of the rows per thread of the step, compressed and multiplied by that thread.
    const int parts = n >= 2 * kSparseRowsPerThread ? step_threads() : 1;
    sparse_.cols = input_dim_;
    sparse_.parts.resize(static_cast<std::size_t>(parts));
    std::atomic<bool> sparse{true}, all_finite{true};
    for_each_thread(parts, [&](int t) {
      SparseBatch::Part& p = sparse_.parts[static_cast<std::size_t>(t)];
      std::tie(p.begin, p.end) = part_of(n, parts, t);
      bool ok = true;
      if (!compress(row_of, input_dim_, kSparseDensity, p, in_order, finite ? &ok : nullptr)) sparse = false;
      if (!ok) all_finite = false;
    });
    if (finite) *finite = all_finite.load();
    sparse_active_ = sparse.load() && all_finite.load();
  }
#endif
  return sparse_active_;
}

template <typename Scalar>
void Network<Scalar>::sparse_first_forward(MatMap<Scalar> z, const SparseBatch::Part* part, bool relu, bool summed) {
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
  if constexpr (std::is_same_v<Scalar, float>) {
    const Layer& L = layers_[0];
    const float* w = params_.data() + L.w_offset;
    const float* b = L.b_offset >= 0 ? params_.data() + L.b_offset : nullptr;
    if (part && summed) {
      // A step by rows: part 0's product of its input columns (with b) is already in z, each
      // other part's in split_z_ (forward_backward_by_rows); their sums, in part order.
      float* zp = z.data();
      const Index size = (part->end - part->begin) * L.out, at = part->begin * L.out;
      for (const Buffer& other : split_z_) {
        const float* o = other.data() + at;
        for (Index i = 0; i < size; ++i) zp[i] += o[i];
      }
      if (relu)  // (Eigen's max: NaN and -0 kept)
        for (Index i = 0; i < size; ++i) zp[i] = zp[i] < 0.0f ? 0.0f : zp[i];
      return;
    }
    if (part) {
      sparse_forward(*part, w, b, L.out, z.data() - part->begin * L.out, relu);
      return;
    }
    for_each_thread(static_cast<int>(sparse_.parts.size()), [&](int t) {
      sparse_forward(sparse_.parts[static_cast<std::size_t>(t)], w, b, L.out, z.data(), relu);
    });
    return;
  }
#endif
  throw std::logic_error("sparse first layer without sparse kernels");
}

template <typename Scalar>
void Network<Scalar>::sparse_first_backward(const MatMap<Scalar>& gz, MatMap<Scalar> dw, Scalar* db) {
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
  if constexpr (std::is_same_v<Scalar, float>) {
    const Layer& L = layers_[0];
    const Index out = L.out;
    const int parts = static_cast<int>(sparse_.parts.size());
    // Each part's by-column copy, then dW by rows (input columns), each part on its thread
    // (team members take parts id, id + team, ...); with one part, or without OpenMP, one thread
    // runs the phases in turn and the barrier is a no-op. In a fused step each row's new
    // weights follow at once, from its gradient still in cache.
    auto phases = [&](int id, int team) {
      for (int t = id; t < parts; t += team) sparse_.by_columns(sparse_.parts[static_cast<std::size_t>(t)]);
#pragma omp barrier
      for (int t = id; t < parts; t += team) sparse_weight_rows(gz, dw.data(), t);
    };
#ifdef FASTMLP_HAVE_OPENMP
#pragma omp parallel num_threads(parts) if (parts > 1)
    {
      FlushScope flush(omp_get_thread_num() != 0);
      phases(omp_get_thread_num(), omp_get_num_threads());
    }
#else
    phases(0, 1);
#endif
    if (db) Eigen::Map<RowVec<Scalar>>(db, out).noalias() = gz.colwise().sum();
    return;
  }
#endif
  throw std::logic_error("sparse first layer without sparse kernels");
}

template <typename Scalar>
void Network<Scalar>::sparse_weight_rows(const MatMap<Scalar>& gz, Scalar* dw, int t) {
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
  if constexpr (std::is_same_v<Scalar, float>) {
    const Layer& L = layers_[0];
    const Index out = L.out;
    const auto [j0, j1] = part_of(input_dim_, static_cast<Index>(sparse_.parts.size()), t);
    if (j1 <= j0) return;
    std::vector<detail::Run> runs(sparse_.parts.size());
    sparse_weight_gradient(sparse_, gz.data(), out, dw, j0, j1, runs.data(), [&](Index j) {
      if (fused_step_)
        optimizer_.apply(*fused_step_, params_.data(), grads_.data(), L.w_offset + j * out, L.w_offset + (j + 1) * out);
    });
    return;
  }
#endif
  throw std::logic_error("sparse first layer without sparse kernels");
}

template <typename Scalar>
void Network<Scalar>::backward(const Scalar* x, Index n, Index row0, Scalar* partial) {
  // On entry grad(last) holds dL/da_last (or dL/dz_last when the loss was fused with the activation).
  for (std::size_t l = layers_.size(); l-- > 0;) {
    const Layer& L = layers_[l];
    MatMap<Scalar> a(acts_[l].data() + row0 * L.out, n, L.out), g(gacts_[l].data() + row0 * L.out, n, L.out);
    const bool skip_activation = l + 1 == layers_.size() && mode_ == LossMode::Fused;
    Scalar* g_in = l > 0 ? gacts_[l - 1].data() + row0 * L.in : nullptr;  // dL/d(input of this layer)
    switch (L.spec.kind) {
      case LayerKind::Dense: {
        if (!skip_activation) activation_grad(l, a, g, row0);
        if (l == 0 && partial) break;
        const Scalar* in = l > 0 ? acts_[l - 1].data() + row0 * L.in : x;
        Scalar* gp = partial ? partial : grads_.data();
        MatMap<Scalar> dw(gp + L.w_offset, L.in, L.out);
        Scalar* db = L.b_offset >= 0 ? gp + L.b_offset : nullptr;
        if (l == 0 && sparse_active_)
          sparse_first_backward(g, dw, db);
        else
          dense_backward<Scalar>(ConstMatMap<Scalar>(in, n, L.in), weights(L), g, dw, db, g_in);
        break;
      }
      case LayerKind::Activation:
        if (!skip_activation) activation_grad(l, a, g, row0);
        if (g_in) MatMap<Scalar>(g_in, n, L.in) = g;
        break;
      case LayerKind::BatchNormalization:
        batch_norm_backward(l, g, g_in, partial ? partial : grads_.data(), n);
        break;
      case LayerKind::PRelu: {
        const Scalar* in = l > 0 ? acts_[l - 1].data() + row0 * L.in : x;
        prelu_backward(L, ConstMatMap<Scalar>(in, n, L.in), g, g_in, partial ? partial : grads_.data());
        break;
      }
      case LayerKind::Normalization:
        if (g_in) {
          const RowVec<Scalar> sd = normalization_scale(L);
          MatMap<Scalar> gi(g_in, n, L.in);
          for (Index i = 0; i < n; ++i)
            for (Index j = 0; j < L.in; ++j) gi(i, j) = L.spec.invert ? g(i, j) * sd[j] : g(i, j) / sd[j];
        }
        break;
      case LayerKind::Dropout:
        if (g_in) {
          MatMap<Scalar> gi(g_in, n, L.in);
          if (L.spec.rate == 0)
            gi = g;
          else
            gi.array() = g.array() * MatMap<Scalar>(masks_[l].data() + row0 * L.out, n, L.out).array();
        }
        break;
    }
  }
}

template <typename Scalar>
double Network<Scalar>::penalty_and_gradient() {
  double total = 0;
  for (const Layer& L : layers_) {
    if (!L.trainable) continue;  // (Keras regularizes trainable weights only)
    for (const Variable& v : variables(L))
      if (v.offset >= 0)
        total += apply_penalty<Scalar>(v.penalty, VecMap<Scalar>(params_.data() + v.offset, v.size),
                                       VecMap<Scalar>(grads_.data() + v.offset, v.size));
  }
  return total;
}

template <typename Scalar>
double Network<Scalar>::penalty() const {
  double total = 0;
  for (const Layer& L : layers_) {
    if (!L.trainable) continue;
    for (const Variable& v : variables(L)) {
      if (v.offset < 0 || !v.penalty.active()) continue;
      Eigen::Map<const Vec<Scalar>> w(params_.data() + v.offset, v.size);
      total += v.penalty.l1 * static_cast<double>(w.array().abs().sum()) +
               v.penalty.l2 * static_cast<double>(w.squaredNorm());
    }
  }
  return total;
}

template <typename Scalar>
void Network<Scalar>::clip_gradients() {
  if (clipvalue_ > 0) grads_ = grads_.cwiseMax(Scalar(-clipvalue_)).cwiseMin(Scalar(clipvalue_));
  if (clipnorm_ > 0) {  // per variable (each kernel, bias, gamma, beta), as Keras's clipnorm
    for (const Layer& L : layers_)
      for (const Variable& v : variables(L)) {
        if (v.offset < 0) continue;
        VecMap<Scalar> g(grads_.data() + v.offset, v.size);
        const double norm = std::sqrt(static_cast<double>(g.squaredNorm()));
        if (norm > clipnorm_) g *= Scalar(clipnorm_ / norm);
      }
  }
  if (global_clipnorm_ > 0) {
    const double norm = std::sqrt(static_cast<double>(grads_.squaredNorm()));
    if (norm > global_clipnorm_) grads_ *= Scalar(global_clipnorm_ / norm);
  }
}

template <typename Scalar>
void Network<Scalar>::count_metrics(const Scalar* y, const Scalar* w, Index n, Sums& s, Index row0,
                                    Sums* counts) {
  count_means(y, nullptr, n, s, row0);
  if (counts) count_arrays(y, nullptr, n, *counts, row0);
  if (!weighs(w)) return;
  MetricSums& ws = s.weighted ? *s.weighted : s.weighted.emplace();
  count_means(y, w, n, ws, row0);
  if (counts) count_arrays(y, w, n, ws, row0);
}

template <typename Scalar>
void Network<Scalar>::count_all_arrays(const Scalar* y, const Scalar* w, Index n, Sums& s, Index row0) {
  count_arrays(y, nullptr, n, s, row0);
  if (weighs(w)) count_arrays(y, w, n, s.weighted ? *s.weighted : s.weighted.emplace(), row0);
}

template <typename Scalar>
void Network<Scalar>::count_means(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0) {
  // As Keras's Mean metrics with sample weights: sum_i w_i v_i / sum_i w_i, where v_i is sample
  // i's value (its mean over the outputs, for binary accuracy and the errors).
  const Index k = output_dim();
  MatMap<Scalar> a(acts_[layers_.size() - 1].data() + row0 * k, n, k);
  auto weight = [w](Index i) { return w ? static_cast<double>(w[i]) : 1.0; };
  double rows = static_cast<double>(n);  // the rows' weights summed
  if (w) {
    rows = 0;
    for (Index i = 0; i < n; ++i) rows += static_cast<double>(w[i]);
    s.weight += rows;
  }
  switch (accuracy_) {
    case AccuracyMode::None:
      break;
    case AccuracyMode::ArgmaxSparse:
      for (Index i = 0; i < n; ++i) {
        Index j;
        a.row(i).maxCoeff(&j);
        s.correct += weight(i) * (static_cast<double>(j) == static_cast<double>(y[i]));
      }
      s.compared += rows;
      break;
    case AccuracyMode::ArgmaxOnehot: {
      ConstMatMap<Scalar> t(y, n, k);
      for (Index i = 0; i < n; ++i) {
        Index j, jt;
        a.row(i).maxCoeff(&j);
        t.row(i).maxCoeff(&jt);
        s.correct += weight(i) * (j == jt);
      }
      s.compared += rows;
      break;
    }
    case AccuracyMode::Threshold: {
      ConstMatMap<Scalar> t(y, n, k);
      const auto right = (a.array() > out_threshold_) == (t.array() > target_threshold_);
      if (!w) {
        s.correct += static_cast<double>(right.count());
      } else {
        for (Index i = 0; i < n; ++i) s.correct += weight(i) * static_cast<double>(right.row(i).count());
      }
      s.compared += rows * static_cast<double>(k);
      break;
    }
  }
  // (sparse labels: error metrics are not defined)
  if ((!squared_metric_ && !absolute_metric_) || target_dim() != k) return;
  ConstMatMap<Scalar> t(y, n, k);
  const auto d = a.array() - (t.array() * error_scale_ + error_offset_);  // (t itself for 1, 0)
  const double outputs = static_cast<double>(k);
  if (!w) {
    if (squared_metric_) s.squared_error += static_cast<double>(d.square().sum()) / outputs;
    if (absolute_metric_) s.absolute_error += static_cast<double>(d.abs().sum()) / outputs;
    return;
  }
  for (Index i = 0; i < n; ++i) {
    if (squared_metric_) s.squared_error += weight(i) * static_cast<double>(d.row(i).square().sum()) / outputs;
    if (absolute_metric_) s.absolute_error += weight(i) * static_cast<double>(d.row(i).abs().sum()) / outputs;
  }
}

template <typename Scalar>
void Network<Scalar>::count_arrays(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0) {
  const Index k = output_dim();
  if (!thresholds_.empty() && target_dim() == k) count_confusion(y, w, n, s, row0);
  if (rank_counts_) count_ranks(y, w, n, s, row0);
  if (max_counts_ && target_dim() == k) count_max(y, w, n, s, row0);
}

template <typename Scalar>
Index Network<Scalar>::thresholds_below(Scalar v) const {
  // How many thresholds lie below v (a NaN is above none): a cell of the grid gives where to start,
  // a few steps either way give the count (the cells' ends may round to either side of v).
  const Index count = static_cast<Index>(thresholds_.size());
  if (!(v > thresholds_.front())) return 0;
  if (v > thresholds_.back()) return count;
  const double cell = (static_cast<double>(v) - grid_low_) * grid_scale_;
  Index i = grid_[static_cast<std::size_t>(std::min(cell, static_cast<double>(grid_.size() - 1)))];
  while (i < count && thresholds_[static_cast<std::size_t>(i)] < v) ++i;
  while (i > 0 && !(thresholds_[static_cast<std::size_t>(i - 1)] < v)) --i;
  return i;
}

template <typename Scalar>
void Network<Scalar>::count_confusion(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0) {
  const Index k = output_dim();
  const std::size_t buckets = thresholds_.size() + 1;
  if (s.positive_buckets.empty()) {
    s.positive_buckets.assign(buckets * static_cast<std::size_t>(k), 0.0);
    s.negative_buckets.assign(buckets * static_cast<std::size_t>(k), 0.0);
  }
  const MatMap<Scalar> a(acts_[layers_.size() - 1].data() + row0 * k, n, k);
  const ConstMatMap<Scalar> t(y, n, k);
  for (Index i = 0; i < n; ++i) {
    const double wi = w ? static_cast<double>(w[i]) : 1.0;  // (Keras: each output counts its row's weight)
    for (Index j = 0; j < k; ++j) {
      const Index below = thresholds_below(a(i, j));
      const bool positive = t(i, j) > positive_above_;
      (positive ? s.positive_buckets : s.negative_buckets)[static_cast<std::size_t>(j) * buckets +
                                                           static_cast<std::size_t>(below)] += wi;
    }
  }
}

template <typename Scalar>
void Network<Scalar>::count_ranks(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0) {
  // As TensorFlow's in_top_k: the rank is how many outputs lie strictly above the target class's
  // (ties straddling the k-th place are all in the top k); a non-finite output is in none.
  const Index k = output_dim(), ty = target_dim();
  if (s.ranks.empty()) s.ranks.assign(static_cast<std::size_t>(k) + 1, 0.0);
  const MatMap<Scalar> a(acts_[layers_.size() - 1].data() + row0 * k, n, k);
  for (Index i = 0; i < n; ++i) {
    Index target = 0;
    if (loss_ == LossKind::SparseCategoricalCrossentropy) {  // (else one target per output)
      check_class_index(y[i], k);
      target = static_cast<Index>(y[i]);
    } else {
      Index row;
      ConstMatMap<Scalar>(y + i * ty, 1, ty).maxCoeff(&row, &target);
    }
    const Scalar v = a(i, target);
    const Index rank = std::isfinite(v) ? (a.row(i).array() > v).count() : k;
    s.ranks[static_cast<std::size_t>(rank)] += w ? static_cast<double>(w[i]) : 1.0;
  }
}

template <typename Scalar>
void Network<Scalar>::count_max(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0) {
  // As Keras's F-scores without a threshold: an output is predicted positive where it equals its
  // row's maximum and |output| > 1e-9 (every output tied at the maximum).
  const Index k = output_dim();
  const auto ku = static_cast<std::size_t>(k);
  if (s.max_counts.empty()) s.max_counts.assign(3 * ku, 0.0);
  const MatMap<Scalar> a(acts_[layers_.size() - 1].data() + row0 * k, n, k);
  const ConstMatMap<Scalar> t(y, n, k);
  for (Index i = 0; i < n; ++i) {
    const Scalar top = a.row(i).maxCoeff();
    const double wi = w ? static_cast<double>(w[i]) : 1.0;
    for (Index j = 0; j < k; ++j) {
      const auto ju = static_cast<std::size_t>(j);
      const bool positive = t(i, j) > positive_above_;
      if (a(i, j) >= top && std::abs(a(i, j)) > Scalar(1e-9)) s.max_counts[(positive ? 0 : ku) + ju] += wi;
      if (positive) s.max_counts[2 * ku + ju] += wi;
    }
  }
}

template <typename Scalar>
void Network<Scalar>::step(const Scalar* x, const Scalar* y, Index n, Sums& s) {
  // A sparse first layer's weights are updated row by row as their gradient is computed, unless
  // something needs the whole gradient first (a penalty on them, clipping).
  // (A step that fails before any update, on a bad label, is not counted.)
  // A step by rows with no penalty anywhere updates every parameter so (parameters [0, updated)
  // are updated during the backward pass; the first layer's weights lie at the start).
  const OptimizerConfig& oc = optimizer_.config();
  // (with gradient clipping the L1 term's share of the step is not known: the rule is not applied)
  const bool clip_l1 = l1_clipping_ && oc.kind == OptimizerKind::SGD && oc.momentum == 0 && oc.weight_decay == 0 &&
                       clipnorm_ == 0 && clipvalue_ == 0 && global_clipnorm_ == 0 &&
                       std::any_of(layers_.begin(), layers_.end(), [](const Layer& L) {
                         return L.spec.kind == LayerKind::Dense && L.spec.kernel_penalty.l1 != 0;
                       });
  const bool trains_any = trains();
  double clip_lr = 0;
  if (clip_l1 && trains_any) {
    clip_lr = optimizer_.learning_rate_now();
    before_step_ = params_;
  }
  const Layer& first = layers_[0];
  const bool rows = by_rows();
  const bool update_all = rows && trains_any && std::none_of(layers_.begin(), layers_.end(), [](const Layer& L) {
                            return L.spec.kernel_penalty.active() || L.spec.bias_penalty.active();
                          });
  const Index updated = update_all ? params_.size() : first.w_offset + first.in * first.out;
  fused_step_.reset();
  if (trains_any && sparse_active_ && !first.spec.kernel_penalty.active() && clipvalue_ == 0 && clipnorm_ == 0 &&
      global_clipnorm_ == 0)
    fused_step_ = optimizer_.begin_step(params_.size());
  double data_loss;
  try {
    data_loss = rows ? forward_backward_by_rows(x, y, n, s, update_all) : forward_backward(x, y, n, s);
  } catch (...) {
    if (fused_step_) optimizer_.cancel_step(*fused_step_);
    fused_step_.reset();
    throw;
  }
  const double pen = penalty_and_gradient();
  if (any_frozen()) zero_frozen_gradients();  // out of the clipping norms (and loss_and_gradient)
  clip_gradients();
  if (fused_step_) {
    optimizer_.finish_step(*fused_step_, params(), grads(), 0, updated);
    fused_step_.reset();
  } else if (trains_any) {
    optimizer_.step(params(), grads());
  }
  if (clip_l1 && trains_any) clip_l1_crossings(clip_lr);
  update_moving_statistics();
  s.loss += data_loss + pen * static_cast<double>(n);
  s.samples += n;
  s.steps += 1;
}

template <typename Scalar>
void Network<Scalar>::clip_l1_crossings(double lr) {
  // nn.ts: w' = (w - lr g) - lr l1 sign(w); if w - lr g and w' differ in sign, w' = 0, dead.
  // SGD's step was w' = w - lr (g + l1 sign(w) + 2 l2 w), so w - lr g = w' + lr (l1 sign(w) + 2 l2 w).
  if (dead_.size() != static_cast<std::size_t>(params_.size())) dead_.assign(static_cast<std::size_t>(params_.size()), 0);
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const Layer& L = layers_[l];
    if (L.spec.kind != LayerKind::Dense || L.spec.kernel_penalty.l1 == 0 || !trainable(static_cast<Index>(l))) continue;
    const Scalar l1_step = Scalar(lr * L.spec.kernel_penalty.l1), l2_step = Scalar(2 * lr * L.spec.kernel_penalty.l2);
    for (Index i = L.w_offset, end = L.w_offset + L.in * L.out; i < end; ++i) {
      Scalar& w = params_[i];
      if (dead_[static_cast<std::size_t>(i)]) {
        w = Scalar(0);
        continue;
      }
      const Scalar b = before_step_[i];
      const Scalar data = w + l1_step * Scalar((b > 0) - (b < 0)) + l2_step * b;
      if (data * w < 0) {
        w = Scalar(0);
        dead_[static_cast<std::size_t>(i)] = 1;
      }
    }
  }
}

template <typename Scalar>
double Network<Scalar>::forward_backward(const Scalar* x, const Scalar* y, Index n, Sums& s) {
  forward(x, n, true, mode_ == LossMode::Fused);
  const std::size_t last = layers_.size() - 1;
  const double data_loss =
      compute_loss<Scalar>(loss_, mode_, loss_params_, act(last, n), ConstMatMap<Scalar>(y, n, target_dim()), grad(last, n), 0,
                           batch_weights_);
  count_metrics(y, batch_weights_, n, s);
  backward(x, n);
  return data_loss;
}

template <typename Scalar>
bool Network<Scalar>::by_rows() const {
  return sparse_active_ && sparse_.parts.size() > 1 &&
         std::all_of(layers_.begin(), layers_.end(), [](const Layer& L) {
           return (L.spec.kind != LayerKind::Dropout || L.spec.rate == 0) &&
                  L.spec.kind != LayerKind::BatchNormalization;  // (its statistics need the whole batch)
         });
}

template <typename Scalar>
double Network<Scalar>::forward_backward_by_rows(const Scalar* x, const Scalar* y, Index n, Sums& s,
                                                 bool update_all) {
#ifdef FASTMLP_HAVE_OPENMP
  const int parts = static_cast<int>(sparse_.parts.size());
  const Index total = params_.size(), ty = target_dim();
  const Layer& first = layers_[0];
  const Index rest = first.b_offset >= 0 ? first.b_offset + first.out : first.w_offset + first.in * first.out;
  const std::size_t last = layers_.size() - 1;
  partial_grads_.resize(static_cast<std::size_t>(parts));
  for (Buffer& b : partial_grads_) b.resize(static_cast<std::size_t>(total));
  std::vector<Sums> sums(static_cast<std::size_t>(parts));  // each part's loss and metric counts
  update_all = update_all && fused_step_;
  // The first layer's product by input columns (each thread multiplying every row by its own
  // rows of W) when the batch is small next to W: the threads then exchange (rows, out) partial
  // sums instead of reading each other's freshly updated rows of W (MNIST on 2 cores: batch 32
  // 12% faster per epoch, 64 8%, 128 3%, 256 3% slower).
  const bool split = n * kSplitForwardRatio <= input_dim_;
  split_z_.resize(split ? static_cast<std::size_t>(parts - 1) : 0);
  for (Buffer& b : split_z_) b.resize(static_cast<std::size_t>(n * first.out));
  FirstError error;
#pragma omp parallel num_threads(parts)
  {
    FlushScope flush(omp_get_thread_num() != 0);
    const int id = omp_get_thread_num(), team = omp_get_num_threads();
    OwnProducts own;
    // The first layer's product of every row by input columns: part t's columns are the rows of
    // W whose gradient and update are its own below (sparse_weight_rows), so W stays in its
    // thread's cache; the parts' sums meet in the forward of each part's rows.
    if (split) {
      for (int t = id; t < parts; t += team)
        error.run([&] {
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
          if constexpr (std::is_same_v<Scalar, float>) {
            const auto [j0, j1] = part_of(input_dim_, parts, t);
            const float* w = params_.data() + first.w_offset;
            const float* b = t == 0 && first.b_offset >= 0 ? params_.data() + first.b_offset : nullptr;
            float* z = t == 0 ? acts_[0].data() : split_z_[static_cast<std::size_t>(t - 1)].data();
            sparse_forward_columns(sparse_, j0, j1, w, b, first.out, z);
          }
#endif
        });
#pragma omp barrier
    }
    // Each part's rows through every layer, its by-column copy for dW of the first layer.
    for (int t = id; t < parts; t += team)
      error.run([&] {
        SparseBatch::Part& p = sparse_.parts[static_cast<std::size_t>(t)];
        const Index r0 = p.begin, m = p.end - p.begin;
        forward(x + r0 * input_dim_, m, true, mode_ == LossMode::Fused, false, r0, &p, split);
        MatMap<Scalar> a(acts_[last].data() + r0 * output_dim(), m, output_dim());
        MatMap<Scalar> g(gacts_[last].data() + r0 * output_dim(), m, output_dim());
        Sums& ps = sums[static_cast<std::size_t>(t)];
        ps.loss = compute_loss<Scalar>(loss_, mode_, loss_params_, a, ConstMatMap<Scalar>(y + r0 * ty, m, ty), g, n,
                                       batch_weights_ ? batch_weights_ + r0 : nullptr);
        // (the count arrays: after the parts)
        count_metrics(y + r0 * ty, batch_weights_ ? batch_weights_ + r0 : nullptr, m, ps, r0, nullptr);
        backward(x + r0 * input_dim_, m, r0, partial_grads_[static_cast<std::size_t>(t)].data());
        sparse_.by_columns(p);
      });
#pragma omp barrier
    error.run([&] {
      // In a fused step with no penalty anywhere, every part of the gradient is followed at once
      // by its update (then all parameters are updated here).
      auto update = [&](Index lo, Index hi) {
        if (update_all && hi > lo) optimizer_.apply(*fused_step_, params_.data(), grads_.data(), lo, hi);
      };
      // The later layers' gradients: the parts' sums, in part order.
      // (Part by part over the range, a vectorised pass each: the other parts' sums stream in
      // from their cores, where one element at a time over the parts waited for each line.)
      const auto [lo, hi] = part_of(total - rest, team, id);
      Scalar* __restrict g = grads_.data();
      const Scalar* __restrict first_part = partial_grads_[0].data();
      for (Index i = rest + lo; i < rest + hi; ++i) g[i] = first_part[i];
      for (int t = 1; t < parts; ++t) {
        const Scalar* __restrict part = partial_grads_[static_cast<std::size_t>(t)].data();
        for (Index i = rest + lo; i < rest + hi; ++i) g[i] += part[i];
      }
      update(rest + lo, rest + hi);
      // The first layer's: bias by columns, weights by rows.
      const MatMap<Scalar> gz(gacts_[0].data(), n, first.out);
      if (first.b_offset >= 0) {
        const auto [c0, c1] = part_of(first.out, team, id);
        auto db = Eigen::Map<RowVec<Scalar>>(grads_.data() + first.b_offset + c0, c1 - c0);
        db = gz.row(0).segment(c0, c1 - c0);
        for (Index i = 1; i < n; ++i) db += gz.row(i).segment(c0, c1 - c0);
        update(first.b_offset + c0, first.b_offset + c1);
      }
      for (int t = id; t < parts; t += team) sparse_weight_rows(gz, grads_.data() + first.w_offset, t);
    });
  }
  error.rethrow();
  count_all_arrays(y, batch_weights_, n, s, 0);  // every part's outputs are in place
  double data_loss = 0;
  for (const Sums& ps : sums) {
    data_loss += ps.loss;
    add_counts(s, ps);
  }
  return data_loss;
#else
  (void)update_all;
  return forward_backward(x, y, n, s);
#endif
}

template <typename Scalar>
Sums Network<Scalar>::train_on_batch(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y,
                                     const Scalar* w) {
  check_xy(x, &y);
  ThreadScope threads(threads_for(x.rows()));
  FlushScope ftz;  // (the workers: one at the start of each parallel region)
  reserve(x.rows());
  use_sparse(x.data(), x.rows());
  PointFor<const Scalar> weights(batch_weights_, w);
  Sums s;
  step(x.data(), y.data(), x.rows(), s);
  return s;
}

template <typename Scalar>
void Network<Scalar>::begin_epoch(Index n, bool shuffle) {
  if (n <= 0) throw std::invalid_argument("begin_epoch: n must be > 0");
  epoch_n_ = n;
  epoch_pos_ = 0;
  epoch_shuffled_ = shuffle;
  dense_batches_ = 0;
  if (shuffle) {
    order_.resize(static_cast<std::size_t>(n));
    std::iota(order_.begin(), order_.end(), std::int64_t(0));
    rng_.shuffle(order_);
  }
}

template <typename Scalar>
Sums Network<Scalar>::train_steps(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, Index batch_size,
                                  std::int64_t max_steps, double max_seconds, const Scalar* w, bool check_x) {
  check_xy(x, &y);
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(batch_size));
  if (x.rows() != epoch_n_)
    throw std::invalid_argument("train_steps: x has " + std::to_string(x.rows()) +
                                " samples but the epoch was begun with " + std::to_string(epoch_n_));
  const Index batch = std::min(batch_size, epoch_n_);
  ThreadScope threads(threads_for(batch));
  FlushScope ftz;
  reserve(batch);
  const Index in = input_dim_, ty = target_dim();
  const auto start = std::chrono::steady_clock::now();
  // Dense inputs stay dense for the rest of the epoch once kDenseBatches batches in a row were too
  // dense for the sparse path, so that they are not compressed in vain at every step. (Counted
  // over the epoch, not this call: where a call ends depends on the time it took, and the rest of
  // a call once dense made results depend on it; one batch of MNIST at batch 32 over 25% nonzeros
  // in a part had the rest of its 0.1 s call, hundreds of steps, run on dense products.)
  bool try_sparse = sparse_wanted() && dense_batches_ < kDenseBatches;
  sparse_active_ = false;
  Sums s;
  while (s.steps < max_steps && epoch_pos_ < epoch_n_) {
    const Index n = std::min(batch, epoch_n_ - epoch_pos_);
    const Index pos = epoch_pos_;
    auto row = [&](Index i) {
      return static_cast<Index>(epoch_shuffled_ ? order_[static_cast<std::size_t>(pos + i)] : pos + i);
    };
    if (try_sparse) {
      bool finite = true;
      const bool sparse = use_sparse([&](Index i) { return x.data() + row(i) * in; }, n, !epoch_shuffled_,
                                     check_x ? &finite : nullptr);
      if (!finite) throw std::invalid_argument(kNonFiniteX);
      dense_batches_ = sparse ? 0 : dense_batches_ + 1;
      try_sparse = dense_batches_ < kDenseBatches;
    }
    const Scalar *xb, *yb, *wb = nullptr;
    if (epoch_shuffled_) {
      // Gather the batch's rows into contiguous buffers: x_b[i] = x[order[pos + i]] (x only for
      // a dense first layer: a sparse one was compressed from x's rows directly).
      for (Index i = 0; i < n; ++i) {
        const Index r = row(i);
        if (!sparse_active_)
          std::memcpy(xbuf_.data() + i * in, x.data() + r * in, sizeof(Scalar) * static_cast<std::size_t>(in));
        std::memcpy(ybuf_.data() + i * ty, y.data() + r * ty, sizeof(Scalar) * static_cast<std::size_t>(ty));
        if (w) wbuf_[static_cast<std::size_t>(i)] = w[r];
      }
      xb = xbuf_.data();
      yb = ybuf_.data();
      if (w) wb = wbuf_.data();
    } else {
      xb = x.data() + epoch_pos_ * in;
      yb = y.data() + epoch_pos_ * ty;
      if (w) wb = w + epoch_pos_;
    }
    // (a dense batch: its rows checked where they were gathered, or in x, while in cache)
    if (check_x && !sparse_active_ && !all_finite(xb, n * in, 1)) throw std::invalid_argument(kNonFiniteX);
    PointFor<const Scalar> weights(batch_weights_, wb);
    step(xb, yb, n, s);
    epoch_pos_ += n;
    if (max_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= max_seconds)
      break;
  }
  return s;
}

template <typename Scalar>
std::vector<Sums> Network<Scalar>::train_epochs(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y,
                                                Index batch_size, Index epochs, bool shuffle, double max_seconds) {
  check_xy(x, &y);  // (before begin_epoch draws a permutation)
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(batch_size));
  if (epochs <= 0) throw std::invalid_argument("epochs must be > 0, got " + std::to_string(epochs));
  const auto start = std::chrono::steady_clock::now();
  std::vector<Sums> out;
  out.reserve(static_cast<std::size_t>(epochs));
  for (Index e = 0; e < epochs; ++e) {
    begin_epoch(x.rows(), shuffle);
    out.push_back(train_steps(x, y, batch_size, std::numeric_limits<std::int64_t>::max(), 0.0));
    if (max_seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >= max_seconds)
      break;
  }
  return out;
}

template <typename Scalar>
void Network<Scalar>::evaluate_batch(const Scalar* x, const Scalar* y, Index n, Sums& s) {
  use_sparse(x, n);
  forward(x, n, false, mode_ == LossMode::Fused);
  const std::size_t last = layers_.size() - 1;
  s.loss += compute_loss<Scalar>(loss_, mode_, loss_params_, act(last, n), ConstMatMap<Scalar>(y, n, target_dim()),
                                      grad(last, n), 0, batch_weights_);
  count_metrics(y, batch_weights_, n, s);
  s.samples += n;
  s.steps += 1;
}

template <typename Scalar>
Sums Network<Scalar>::evaluate(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, Index batch_size,
                               const Scalar* w) {
  check_xy(x, &y);
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(batch_size));
  const Index batch = std::min(batch_size, x.rows());
  Sums s;
  // In chunks of rows, one thread per chunk, as predict (each row's loss and metrics do not
  // depend on the batch it is in); the chunks' sums are added in chunk order.
  {
    const bool sparse = use_sparse(x.data(), std::min<Index>(batch, 256));
    const std::size_t last = layers_.size() - 1;
    const Index k = output_dim(), ty = target_dim();
    std::vector<Sums> sums(static_cast<std::size_t>((x.rows() + kSparseChunkRows - 1) / kSparseChunkRows));
    // (the count arrays by thread, not by chunk: integer counts, added in any order)
    std::vector<Sums> counts(static_cast<std::size_t>(threads_for(x.rows())));
    auto chunk_sums = [&](Index c, Index r0, Index n, Index row0) {
      Sums& cs = sums[static_cast<std::size_t>(c)];
      const Scalar* yc = y.data() + r0 * ty;
      MatMap<Scalar> a(acts_[last].data() + row0 * k, n, k), g(gacts_[last].data() + row0 * k, n, k);
      cs.loss = compute_loss<Scalar>(loss_, mode_, loss_params_, a, ConstMatMap<Scalar>(yc, n, ty), g, 0, w ? w + r0 : nullptr);
      // (the weighted count arrays by chunk, in cs: sums of weights, added in chunk order)
      Sums& thread_counts = counts[static_cast<std::size_t>(row0 / kSparseChunkRows)];
      count_metrics(yc, w ? w + r0 : nullptr, n, cs, row0, &thread_counts);
    };
    if (forward_in_chunks(x, kSparseChunkRows, mode_ == LossMode::Fused, false, sparse, chunk_sums)) {
      for (const Sums& cs : counts) add_counts(s, cs);
      for (const Sums& cs : sums) {
        s.loss += cs.loss;
        add_counts(s, cs);
      }
      s.samples = x.rows();
      s.steps = (x.rows() + batch - 1) / batch;
      s.loss += penalty() * static_cast<double>(s.samples);
      return s;
    }
  }
  ThreadScope threads(threads_for(batch));
  FlushScope ftz;
  reserve(batch);
  for (Index pos = 0; pos < x.rows(); pos += batch) {
    const Index n = std::min(batch, x.rows() - pos);
    PointFor<const Scalar> weights(batch_weights_, w ? w + pos : nullptr);
    evaluate_batch(x.data() + pos * input_dim_, y.data() + pos * target_dim(), n, s);
  }
  s.loss += penalty() * static_cast<double>(s.samples);
  return s;
}

template <typename Scalar>
void Network<Scalar>::predict(const ConstMatMap<Scalar>& x, MatMap<Scalar> out, Index batch_size,
                              bool check_finite) {
  check_xy(x, nullptr);
  if (batch_size <= 0) throw std::invalid_argument("batch_size must be > 0, got " + std::to_string(batch_size));
  if (out.rows() != x.rows() || out.cols() != output_dim())
    throw std::invalid_argument("predict: output buffer must be " + shape_str(x.rows(), output_dim()));
  const Index batch = std::min(batch_size, x.rows());
  // With more than one thread, rows go through all the layers in chunks, one thread per chunk
  // (forward_in_chunks; sparse chunks compressed): no fork/join per layer, so a thread held up on
  // busy cores delays no other (BLAS's own threads made a dense predict 20-100x slower there).
  // With one thread, sparse blocks (a look at the first rows decides) have the rest of their
  // products split like a training step's, and a block too dense for the sparse path turns it
  // off for the blocks after it.
  // Sparse blocks are at most kSparsePredictRows long, so that the compressed copy stays small.
  bool sparse = use_sparse(x.data(), std::min<Index>(batch, 256));  // a look at the first rows
  const std::size_t last = layers_.size() - 1;
  const Index k = output_dim();
  if (forward_in_chunks(x, std::min(batch, kSparseChunkRows), false, check_finite, sparse,
                        [&](Index, Index r0, Index n, Index row0) {
                          out.middleRows(r0, n) = MatMap<Scalar>(acts_[last].data() + row0 * k, n, k);
                        }))
    return;
  const Index block = sparse ? std::min(batch, kSparsePredictRows) : batch;
  ThreadScope threads(threads_for(block));
  FlushScope ftz;
  reserve(block);
  for (Index pos = 0; pos < x.rows(); pos += block) {
    const Index n = std::min(block, x.rows() - pos);
    sparse = sparse && use_sparse(x.data() + pos * input_dim_, n);
    sparse_active_ = sparse;
    forward(x.data() + pos * input_dim_, n, false, false, check_finite);
    out.middleRows(pos, n) = act(last, n);
  }
}

template <typename Scalar>
template <typename Done>
bool Network<Scalar>::forward_in_chunks(const ConstMatMap<Scalar>& x, Index chunk, bool defer_last,
                                        bool check_finite, bool try_sparse, Done&& done) {
#ifdef FASTMLP_HAVE_OPENMP
  const Index chunks = (x.rows() + chunk - 1) / chunk;
  const int threads = static_cast<int>(std::min<Index>(threads_for(x.rows()), chunks));
  if (threads < 2) return false;
  ThreadScope scope(threads);  // step_threads() for the regions
  FlushScope ftz;
  reserve(threads * chunk);  // thread t's rows of every buffer: [t * chunk, (t + 1) * chunk)
  sparse_.parts.resize(static_cast<std::size_t>(threads));
  sparse_active_ = false;  // each thread says where its first layer comes from
  std::atomic<bool> all_sparse{try_sparse};
  FirstError error;
#pragma omp parallel num_threads(threads)
  {
    FlushScope flush(omp_get_thread_num() != 0);
    const int t = omp_get_thread_num();
    OwnProducts own;
    SparseBatch::Part& p = sparse_.parts[static_cast<std::size_t>(t)];
#pragma omp for schedule(dynamic, 1)
    for (Index k = 0; k < chunks; ++k)
      error.run([&] {
        const Index r0 = k * chunk, n = std::min(chunk, x.rows() - r0);
        const Scalar* xk = x.data() + r0 * input_dim_;
        bool sparse = false;
#ifdef FASTMLP_HAVE_SPARSE_KERNELS
        if constexpr (std::is_same_v<Scalar, float>) {
          if (try_sparse) {
            // x checked for NaN and infinity as it is compressed (then not the product: the
            // first layer's relu can go with it).
            p.begin = t * chunk;
            p.end = p.begin + n;
            auto row = [&](Index i) { return xk + (i - p.begin) * input_dim_; };
            bool finite = true;
            sparse = compress(row, input_dim_, kSparseDensity, p, true, check_finite ? &finite : nullptr);
            if (!finite) throw std::invalid_argument(kNonFiniteX);
            if (!sparse) all_sparse = false;
          }
        }
#endif
        forward(xk, n, false, defer_last, check_finite && !sparse, t * chunk, sparse ? &p : nullptr);
        done(k, r0, n, t * chunk);
      });
  }
  error.rethrow();
  sparse_active_ = all_sparse.load();
  return true;
#else
  (void)x, (void)chunk, (void)defer_last, (void)check_finite, (void)try_sparse, (void)done;
  return false;
#endif
}

template <typename Scalar>
double Network<Scalar>::loss_and_gradient(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y) {
  check_xy(x, &y);
  ThreadScope threads(threads_for(x.rows()));
  FlushScope ftz;
  reserve(x.rows());
  const Index n = x.rows();
  use_sparse(x.data(), n);
  forward(x.data(), n, true, mode_ == LossMode::Fused);
  const std::size_t last = layers_.size() - 1;
  const double data_loss = compute_loss<Scalar>(loss_, mode_, loss_params_, act(last, n), y, grad(last, n));
  backward(x.data(), n);
  const double pen = penalty_and_gradient();
  if (any_frozen()) zero_frozen_gradients();
  return data_loss / static_cast<double>(n) + pen;
}

void set_sparse_inputs(bool enabled) { g_sparse_inputs.store(enabled); }
bool sparse_inputs() { return g_sparse_inputs.load(); }

void set_max_threads(int threads) {
  if (threads < 0) throw std::invalid_argument("threads must be >= 0 (0: all), got " + std::to_string(threads));
  g_max_threads.store(threads);
}

void set_parallel_work(std::int64_t multiply_adds) {
  if (multiply_adds < 0)
    throw std::invalid_argument("multiply_adds must be >= 0, got " + std::to_string(multiply_adds));
  g_parallel_work.store(multiply_adds);
}

std::int64_t parallel_work() { return g_parallel_work.load(); }

int max_threads() {
#ifdef FASTMLP_HAVE_OPENMP
  if (g_forked.load()) return 1;
  const int most = g_max_threads.load();
  return most > 0 ? most : omp_get_max_threads();
#else
  return 1;
#endif
}

template class Network<float>;
template class Network<double>;

}  // namespace fastmlp
