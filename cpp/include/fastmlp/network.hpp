// A stack of layers with preallocated workspaces, a loss, an optimizer and the training loop.
// The whole minibatch loop (shuffle, forward, loss, backward, penalty, update, metrics) runs here;
// the caller gets running sums back and decides when to call again.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include "fastmlp/activation.hpp"
#include "fastmlp/loss.hpp"
#include "fastmlp/optimizer.hpp"
#include "fastmlp/random.hpp"
#include "fastmlp/regularizer.hpp"
#include "fastmlp/sparse.hpp"
#include "fastmlp/types.hpp"

#include <Eigen/StdVector>

namespace fastmlp {

// Normalization: (x - mean) / max(sqrt(variance), 1e-7) per feature (Keras's, axis=-1), or its
// inverse; its weights mean, variance and count (Keras's, for saving) are never trained.
// BatchNormalization (Keras's, axis=-1): gamma (x - mean) / sqrt(var + epsilon) + beta with the
// batch's mean and variance while training (and the moving ones, updated by each step, otherwise or
// when the layer is frozen); its weights, Keras's list: gamma (unless scale is off: gamma = 1),
// beta (unless center is off: beta = 0), moving_mean, moving_variance.
// PRelu (Keras's PReLU): x above 0, alpha x at and below it, with a trained alpha per feature
// (or one for all the features: Keras's shared_axes=[1]).
enum class LayerKind : int { Dense = 0, Activation, Dropout, Normalization, BatchNormalization, PRelu };

struct LayerSpec {
  LayerKind kind = LayerKind::Dense;
  Index units = 0;                          // Dense: output width
  Activation activation = Activation::Linear;  // Dense, Activation
  ActivationParams activation_params;       // Dense, Activation: the function's arguments
  bool use_bias = true;                     // Dense
  double rate = 0;                          // Dropout: fraction of inputs set to zero
  bool invert = false;                      // Normalization: mean + x * std instead
  double momentum = 0.99, epsilon = 1e-3;   // BatchNormalization
  bool scale = true, center = true;         // BatchNormalization: whether gamma, beta are there
  bool shared_alpha = false;                // PRelu: one alpha for all the features
  // Dense: on the kernel, the bias; BatchNormalization: on gamma, beta (none where it is not
  // there); PRelu: on alpha (kernel_penalty)
  Penalty kernel_penalty, bias_penalty;
};

// What "accuracy" compares (chosen by the Python side from the loss, as Keras does).
enum class AccuracyMode : int {
  None = 0,
  ArgmaxSparse,  // argmax(output row) == integer label
  ArgmaxOnehot,  // argmax(output row) == argmax(target row)
  Threshold,     // per element: (output > t_out) == (target > t_target)
};

// The metrics' counts over the samples seen by one call: each sample counted once, or (the
// weighted counts, Sums::weighted) as many times as its sample weight says.
struct MetricSums {
  double correct = 0;     // accuracy numerator
  double compared = 0;    // accuracy denominator (samples, or elements for Threshold)
  // Sums over samples of the sample's mean over outputs, for the mse / mae metrics.
  double squared_error = 0, absolute_error = 0;
  double weight = 0;      // the weighted counts' samples: their weights summed (0 in plain counts)
  // Confusion counts, when thresholds are set (precision, recall, AUC, ...): the outputs whose
  // target is positive (above the prepared image of 0) / not, by output column j and bucket c = how many thresholds lie
  // below the output, at [j * (thresholds + 1) + c]. Empty when no thresholds are set.
  std::vector<double> positive_buckets, negative_buckets;
  // Rank counts, when on (top-k accuracy): ranks[r] samples whose target class had r outputs
  // above its own (r < outputs), ranks[outputs] those whose target class's output is not finite.
  std::vector<double> ranks;
  // Row-maximum counts, when on (F-scores without a threshold): per output column, outputs at
  // their row's maximum (and |output| > 1e-9) with a positive target, the same with a negative
  // target, and positive targets: [0, k), [k, 2k), [2k, 3k).
  std::vector<double> max_counts;
};

// Running sums over the samples seen by one call.
struct Sums : MetricSums {
  std::int64_t steps = 0;
  std::int64_t samples = 0;
  double loss = 0;        // sum over samples of (per-sample loss + penalty at that step)
  // With weighted metrics on (set_weighted_metrics) and sample weights given: the metrics' counts
  // again, each sample counted w times, as Keras's update_state(y, y_pred, sample_weight).
  // Absent otherwise: without sample weights the weighted metrics are the plain ones.
  std::optional<MetricSums> weighted;
};

template <typename Scalar>
class Network {
 public:
  Network(Index input_dim, std::vector<LayerSpec> layers, std::uint64_t seed);

  Index input_dim() const { return input_dim_; }
  Index output_dim() const { return widths_.back(); }
  Index param_count() const { return params_.size(); }
  Index target_dim() const;  // columns of y: 1 for sparse labels, else output_dim()

  // All trainable parameters, layer by layer: W (in, out) row-major, then b (out,).
  VecMap<Scalar> params() { return VecMap<Scalar>(params_.data(), params_.size()); }
  VecMap<Scalar> grads() { return VecMap<Scalar>(grads_.data(), grads_.size()); }

  // The TensorFlow Playground's L1 (nn.ts): in a plain SGD step, a kernel weight that the L1 term
  // carries across zero becomes 0 and dead: no later step changes it, until the parameters are set
  // again (forget_dead()). Steps of other optimizers (momentum, Adam, ...), or with gradient
  // clipping, take L1 as usual.
  void set_l1_clipping(bool on) {
    l1_clipping_ = on;
    dead_.clear();
  }
  bool l1_clipping() const { return l1_clipping_; }
  void forget_dead() { dead_.clear(); }

  // params: the loss's arguments (validate_loss); the losses without any ignore them.
  void set_loss(LossKind kind, bool from_logits, const LossParams& params = {});
  void set_accuracy(AccuracyMode mode, double output_threshold, double target_threshold);
  // Thresholds (ascending, finite) of the confusion counts in Sums; empty: none counted. A target
  // above positive_above is positive (the loss's prepared image of 0: a target passed as 0 stays
  // negative after label smoothing or {0, 1} -> {-1, +1}).
  void set_confusion_thresholds(const std::vector<double>& thresholds, double positive_above = 0);
  // Count the ranks of the target classes (top-k accuracy; labels, or the argmax of targets).
  void set_rank_counts(bool on) { rank_counts_ = on; }
  // Count the outputs at their row's maximum by target sign (F-scores without a threshold).
  void set_max_counts(bool on) { max_counts_ = on; }
  void set_error_metrics(bool squared, bool absolute);
  // Count the metrics a second time with the sample weights (Sums::weighted), when a call has them.
  void set_weighted_metrics(bool on) { weighted_metrics_ = on; }
  // The mse / mae metrics compare the outputs with scale * y + offset: the targets as the user
  // passed them, where the loss's preparation (label smoothing, {0, 1} -> {-1, +1}) changed y.
  void set_error_targets(double scale, double offset);
  // Clipping as Keras's optimizer arguments; 0 = off.
  void set_clipping(double clipnorm, double clipvalue, double global_clipnorm);
  // A frozen layer (trainable false, as Keras's): its weights and their optimizer slots stay as
  // they are, and its penalty is neither in the loss nor in the gradient (Keras regularizes
  // trainable weights only); gradients still flow through it to the layers below.
  // Freezes exactly these layers (indices), unfreezes the others.
  void set_frozen_layers(const std::vector<Index>& frozen);
  bool trainable(Index layer) const;
  // Whether a step trains anything: some layer with trained parameters is not frozen. A step
  // that trains nothing (as Keras's with no trainable weights) leaves the optimizer alone: its
  // iterations do not count.
  bool trains() const;
  Optimizer<Scalar>& optimizer() { return optimizer_; }
  Random& random() { return rng_; }
  LossMode loss_mode() const { return mode_; }

  // One optimisation step on the batch given (no shuffling).
  // w: per-sample weights of the loss (Keras's sample_weight), one per row of x; nullptr: none.
  Sums train_on_batch(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, const Scalar* w = nullptr);

  // Starts an epoch over n samples: a fresh permutation from the model's generator if shuffle.
  void begin_epoch(Index n, bool shuffle);
  // Runs up to max_steps minibatch steps of the current epoch, stopping early once max_seconds
  // have passed (0 = no limit) or the epoch is over. x and y must be the epoch's arrays.
  // check_x: each batch's rows of x are checked for NaN and infinity before its step (while
  // they are compressed: no pass of its own), std::invalid_argument on one (the steps before it
  // stay done: fit undoes them).
  Sums train_steps(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, Index batch_size,
                   std::int64_t max_steps, double max_seconds, const Scalar* w = nullptr, bool check_x = false);
  // Whole epochs (begin_epoch + train_steps each), for a fit with nothing to run between them:
  // each epoch's sums, stopping after `epochs` or, at an epoch's end, once max_seconds have passed.
  std::vector<Sums> train_epochs(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, Index batch_size,
                                 Index epochs, bool shuffle, double max_seconds);
  bool epoch_done() const { return epoch_pos_ >= epoch_n_; }
  Index epoch_position() const { return epoch_pos_; }

  Sums evaluate(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y, Index batch_size,
                const Scalar* w = nullptr);
  // check_finite: refuse x holding NaN or infinity (std::invalid_argument), found from the first
  // layer's product (a non-finite input makes its row of x W non-finite) without another pass over x.
  void predict(const ConstMatMap<Scalar>& x, MatMap<Scalar> out, Index batch_size, bool check_finite = false);

  // Mean loss + penalty on (x, y) and its gradient (left in grads()); parameters unchanged.
  double loss_and_gradient(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>& y);

  // Threads for a call on batches of this many rows: all (max_threads()) from 32 rows and
  // parallel_work() multiply-adds a step (rows x parameters) up, else one.
  int threads_for(Index rows) const;

  // Whether the last batch computed ran its first layer on the batch's nonzeros (sparse.hpp).
  bool last_batch_sparse() const { return sparse_active_; }

  // Held by every call that computes or touches parameters: one model, one thread at a time.
  std::mutex& busy() { return busy_; }

 private:
  struct Layer {
    LayerSpec spec;
    Index in = 0, out = 0;         // widths
    // Into params_ / grads_ (-1: none). Dense: kernel, bias; Normalization: mean (then variance,
    // count); BatchNormalization: gamma, beta, and its moving mean (then moving variance);
    // PRelu: alpha (w_offset).
    Index w_offset = -1, b_offset = -1, stats_offset = -1;
    bool trainable = true;
  };
  // A trained weight as Keras lists it (Dense: kernel, bias; BatchNormalization: gamma, beta;
  // PRelu: alpha) and the penalty on it; offset -1: the layer has none.
  struct Variable {
    Index offset, size;
    const Penalty& penalty;
  };
  static std::array<Variable, 2> variables(const Layer& L);
  bool any_frozen() const;
  void zero_frozen_gradients();
  // A layer's parameters [begin, end) that steps train (none when frozen), and those no step
  // changes (Normalization's, BatchNormalization's moving statistics); {0, 0}: none.
  static std::pair<Index, Index> trained_params(const Layer& L);
  static std::pair<Index, Index> fixed_params(const Layer& L);

  void reserve(Index batch);
  void check_xy(const ConstMatMap<Scalar>& x, const ConstMatMap<Scalar>* y) const;
  MatMap<Scalar> act(std::size_t l, Index n) { return MatMap<Scalar>(acts_[l].data(), n, layers_[l].out); }
  MatMap<Scalar> grad(std::size_t l, Index n) { return MatMap<Scalar>(gacts_[l].data(), n, layers_[l].out); }
  MatMap<Scalar> weights(const Layer& L) { return MatMap<Scalar>(params_.data() + L.w_offset, L.in, L.out); }

  // Writes rows [row0, row0 + n) of the layers' outputs. The first layer comes from `part` when
  // given (its rows, on the calling thread; with `summed`, from the sums of split_z_ instead:
  // forward_backward_by_rows), else from all of sparse_'s parts when sparse_active_, else from
  // the dense x.
  void forward(const Scalar* x, Index n, bool training, bool defer_last, bool check_finite = false, Index row0 = 0,
               const SparseBatch::Part* part = nullptr, bool summed = false);
  // predict's and evaluate's way for sparse inputs and more than one thread: each thread takes
  // chunks of `chunk` rows through all the layers, compressing and multiplying them itself (no
  // fork/join per layer, no serial pass), then calls done(k, r0, n, row0) for chunk k (x's rows
  // [r0, r0 + n), outputs in rows [row0, row0 + n) of the layers' buffers). False when it does
  // not apply (one thread, or one chunk).
  template <typename Done>
  bool forward_in_chunks(const ConstMatMap<Scalar>& x, Index chunk, bool defer_last, bool check_finite, bool try_sparse,
                         Done&& done);
  // Over rows [row0, row0 + n) of the layers' buffers. With `partial` (a vector like grads_), the
  // parameter gradients of these rows go there and the first layer's are left to the caller (a
  // part of the batch in forward_backward_by_rows).
  void backward(const Scalar* x, Index n, Index row0 = 0, Scalar* partial = nullptr);
  // Layer l's activation over its rows a (from row0), keeping z first where the backward pass
  // needs it; and g = g * f'(z) for those rows, from a or from that z.
  void activate_keeping_z(std::size_t l, MatMap<Scalar> a, Index row0, bool training);
  RowVec<Scalar> normalization_scale(const Layer& L) const;  // a Normalization's std per feature
  Scalar batch_norm_gamma(const Layer& L, Index j) const;  // 1 without gamma (scale off)
  Scalar batch_norm_beta(const Layer& L, Index j) const;   // 0 without beta (center off)
  Scalar batch_norm_moving_scale(const Layer& L, Index j) const;
  void batch_norm_forward(std::size_t l, const ConstMatMap<Scalar>& x, MatMap<Scalar> a, bool training, Index row0);
  // gp: a vector like grads_, where the layer's parameter gradients go (at the layer's offsets).
  void batch_norm_backward(std::size_t l, const MatMap<Scalar>& g, Scalar* g_in, Scalar* gp, Index n);
  void update_moving_statistics();  // after a training step
  static Index prelu_alphas(const Layer& L) { return L.spec.shared_alpha ? 1 : L.in; }
  void prelu_forward(const Layer& L, const ConstMatMap<Scalar>& x, MatMap<Scalar> a) const;
  // x: the layer's input; gp: a vector like grads_, where d/dalpha goes (at the layer's offset).
  void prelu_backward(const Layer& L, const ConstMatMap<Scalar>& x, const MatMap<Scalar>& g, Scalar* g_in,
                      Scalar* gp) const;
  void activation_grad(std::size_t l, const MatMap<Scalar>& a, MatMap<Scalar> g, Index row0);
  double penalty_and_gradient();  // adds penalty gradients to grads_, returns the penalty
  double penalty() const;
  void clip_gradients();
  // The metrics' counts of rows [row0, row0 + n) of the outputs (their targets y, sample weights
  // w or nullptr) into s, and with weighted metrics on and w given, weighted into s.weighted. The
  // count arrays (confusion, ranks, row maxima): the plain ones into `counts`, the weighted ones
  // into s.weighted; none when `counts` is nullptr (count_all_arrays counts them later).
  void count_metrics(const Scalar* y, const Scalar* w, Index n, Sums& s, Index row0 = 0) {
    count_metrics(y, w, n, s, row0, &s);
  }
  void count_metrics(const Scalar* y, const Scalar* w, Index n, Sums& s, Index row0, Sums* counts);
  void count_all_arrays(const Scalar* y, const Scalar* w, Index n, Sums& s, Index row0);
  bool weighs(const Scalar* w) const { return weighted_metrics_ && w != nullptr; }
  // One set of counts: each row counted w[i] times (once where w is nullptr).
  void count_means(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0);  // accuracy, errors
  void count_arrays(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0);
  Index thresholds_below(Scalar v) const;
  void count_confusion(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0);
  void count_ranks(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0);
  void count_max(const Scalar* y, const Scalar* w, Index n, MetricSums& s, Index row0);
  void step(const Scalar* x, const Scalar* y, Index n, Sums& s);
  // The forward pass, loss, metrics and backward pass of a step (parameters' gradients in
  // grads_), returning the data loss: whole-batch products split over the threads, or, for a
  // sparse first layer and no dropout, each thread taking its part's rows through all of them
  // (one parallel region per step; the parts' gradients summed at the end).
  double forward_backward(const Scalar* x, const Scalar* y, Index n, Sums& s);
  bool by_rows() const;
  // update_all: in a fused step, every parameter is updated right after its gradient (no
  // penalty anywhere), not just the first layer's weights.
  double forward_backward_by_rows(const Scalar* x, const Scalar* y, Index n, Sums& s, bool update_all);
  // dW rows of the sparse first layer for part t's share of input columns (after every part's
  // by-column copy), each row followed by its update in a fused step.
  void sparse_weight_rows(const MatMap<Scalar>& gz, Scalar* dw, int t);
  void evaluate_batch(const Scalar* x, const Scalar* y, Index n, Sums& s);
  // Whether the first layer may run on a batch's nonzeros (sparse.hpp): float, a Dense first
  // layer, inputs wide enough, and set_sparse_inputs(true).
  bool sparse_wanted() const;
  // Compresses rows row_of(0 .. n-1) of this batch into sparse_ when they are sparse enough, and
  // says whether the first layer will use them (sparse_active_); the dense x is then not read.
  // finite: also checks the rows for NaN and infinity, setting *finite = false on one (and
  // returning false).
  template <typename RowOf>
  bool use_sparse(RowOf row_of, Index n, bool in_order, bool* finite = nullptr);
  // z = x W + b of the sparse first layer (its part's rows, or every part's); relu: max(z, 0).
  // summed: the part's rows of z are the sums of the parts' products by input columns instead.
  void sparse_first_forward(MatMap<Scalar> z, const SparseBatch::Part* part, bool relu, bool summed = false);
  void sparse_first_backward(const MatMap<Scalar>& gz, MatMap<Scalar> dw, Scalar* db);
  bool use_sparse(const Scalar* x, Index n) {
    return use_sparse([x, this](Index i) { return x + i * input_dim_; }, n, true);
  }

  Index input_dim_;
  std::vector<Layer> layers_;
  std::vector<Index> widths_;               // output width of each layer
  Vec<Scalar> params_, grads_;              // (n_params,)
  // Workspaces aligned for the widest vector registers: Eigen evaluates an unaligned head of an
  // array expression with scalar code (std::exp, ...) that can differ in the last bit from its
  // packet code, so unaligned buffers would make results depend on heap addresses.
  using Buffer = std::vector<Scalar, Eigen::aligned_allocator<Scalar>>;
  std::vector<Buffer> acts_;   // per layer: (capacity, out) outputs a_l
  std::vector<Buffer> gacts_;  // per layer: (capacity, out) dL/da_l
  std::vector<Buffer> masks_;  // per Dropout layer: (capacity, out) keep / (1 - rate)
  std::vector<Buffer> pres_;   // per layer of a needs_preactivation() function: (capacity, out) z;
                               // per BatchNormalization: x normalized
  std::vector<Buffer> batch_stats_;  // per BatchNormalization: the training batch's mean, var, 1/std
  Buffer xbuf_, ybuf_;         // (capacity, in), (capacity, target_dim): a gathered batch
  Buffer wbuf_;                // (capacity,): its sample weights
  const Scalar* batch_weights_ = nullptr;  // the current batch's sample weights (nullptr: none)
  SparseBatch sparse_;         // the batch's nonzeros, when sparse_active_
  bool sparse_active_ = false;
  // Set during a step whose first layer's weights are updated as soon as each row of their
  // gradient is computed (sparse_weight_rows), while it is in cache.
  std::optional<typename Optimizer<Scalar>::Step> fused_step_;
  std::vector<Buffer> partial_grads_;  // per part of a step by rows: its rows' gradients
  // A step by rows with a split first product: per part but the first, (rows, out) x[:, its
  // input columns] W (part 0's, + b, is written into the first layer's outputs).
  std::vector<Buffer> split_z_;
  Index capacity_ = 0;

  LossKind loss_ = LossKind::MeanSquaredError;
  bool from_logits_ = false;
  LossParams loss_params_;
  LossMode mode_ = LossMode::Probabilities;
  AccuracyMode accuracy_ = AccuracyMode::None;
  std::vector<Scalar> thresholds_;  // of the confusion counts
  std::vector<Index> grid_;         // where to look in thresholds_ (thresholds_below)
  double grid_low_ = 0, grid_scale_ = 0;
  Scalar positive_above_ = Scalar(0);
  bool rank_counts_ = false, max_counts_ = false;
  Scalar out_threshold_ = Scalar(0.5), target_threshold_ = Scalar(0.5);
  bool squared_metric_ = false, absolute_metric_ = false;
  bool weighted_metrics_ = false;
  Scalar error_scale_ = Scalar(1), error_offset_ = Scalar(0);
  double clipnorm_ = 0, clipvalue_ = 0, global_clipnorm_ = 0;
  Optimizer<Scalar> optimizer_;
  Random rng_;
  bool l1_clipping_ = false;
  std::vector<std::uint8_t> dead_;  // per parameter, with l1_clipping_: its weight is dead
  Vec<Scalar> before_step_;         // with l1_clipping_: the parameters before the step
  void clip_l1_crossings(double lr);

  std::vector<std::int64_t> order_;  // the epoch's sample order
  Index epoch_n_ = 0, epoch_pos_ = 0;
  bool epoch_shuffled_ = false;
  int dense_batches_ = 0;  // this epoch's last batches in a row too dense for the sparse path
  std::mutex busy_;
};

// Whether first Dense layers run on the nonzeros of sparse inputs (default true; results agree with
// the dense products to float rounding). Off: every product is a dense GEMM.
void set_sparse_inputs(bool enabled);
bool sparse_inputs();

// The most threads a large batch may use (0: all that OpenMP offers); small batches use one.
void set_max_threads(int threads);
int max_threads();
// The work a step (batch rows x parameters multiply-adds) needs before it uses more than one
// thread (default 2^20); 0: every batch of 32 rows or more (tests of the parallel paths).
void set_parallel_work(std::int64_t multiply_adds);
std::int64_t parallel_work();

extern template class Network<float>;
extern template class Network<double>;

}  // namespace fastmlp
