// The only file that knows Python: NumPy arrays in, Eigen maps over them (no copies), the GIL
// released around every computation, C++ exceptions out as ValueError / RuntimeError.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <mutex>
#include <optional>
#include <string>

#include "fastmlp/blas.hpp"
#include "fastmlp/dense.hpp"
#include "fastmlp/network.hpp"

#ifdef FASTMLP_HAVE_OPENMP
#include <omp.h>
#endif

namespace py = pybind11;
using namespace fastmlp;

namespace {

template <typename S>
using Array = py::array_t<S, py::array::c_style | py::array::forcecast>;

template <typename S>
ConstMatMap<S> as_matrix(const Array<S>& a, const char* name) {
  if (a.ndim() != 2)
    throw std::invalid_argument(std::string(name) + ": expected a 2-D array, got " + std::to_string(a.ndim()) +
                                "-D");
  return ConstMatMap<S>(a.data(), a.shape(0), a.shape(1));
}

// Per-sample loss weights (None: none): one finite number per row of x.
template <typename S>
const S* sample_weights(const std::optional<Array<S>>& w, Index rows) {
  if (!w) return nullptr;
  if (w->ndim() != 1 || w->shape(0) != rows)
    throw std::invalid_argument("w: expected one sample weight per row of x, shape (" + std::to_string(rows) +
                                ",)");
  for (Index i = 0; i < rows; ++i)
    if (!std::isfinite(static_cast<double>(w->data()[i])))
      throw std::invalid_argument("w: sample weights must be finite numbers");
  return w->data();
}

// A copy of count arrays as a float64 array (empty when none were counted).
py::array_t<double> buckets_array(const std::vector<double>& v) {
  py::array_t<double> out(static_cast<py::ssize_t>(v.size()));
  std::copy(v.begin(), v.end(), out.mutable_data());
  return out;
}

// One model, one thread at a time: a second concurrent call gets a clear error, never a data race.

template <typename S>
std::unique_lock<std::mutex> claim(Network<S>& net) {
  std::unique_lock<std::mutex> lock(net.busy(), std::try_to_lock);
  if (!lock.owns_lock())
    throw std::runtime_error(
        "this model is being used by another thread; a model can run one call at a time "
        "(use one model per thread)");
  return lock;
}

template <typename S>
void bind_network(py::module_& m, const char* name) {
  using Net = Network<S>;
  py::class_<Net>(m, name)
      .def(py::init<Index, std::vector<LayerSpec>, std::uint64_t>(), py::arg("input_dim"), py::arg("layers"),
           py::arg("seed"))
      .def_property_readonly("input_dim", &Net::input_dim)
      .def_property_readonly("output_dim", &Net::output_dim)
      .def_property_readonly("param_count", &Net::param_count)
      .def_property_readonly("target_dim", &Net::target_dim)
      .def_property_readonly("loss_mode", [](const Net& n) { return static_cast<int>(n.loss_mode()); })
      .def("get_params",
           [](Net& n) {
             auto lock = claim(n);
             Array<S> out(n.param_count());
             std::copy(n.params().data(), n.params().data() + n.param_count(), out.mutable_data());
             return out;
           })
      .def("set_params",
           [](Net& n, const Array<S>& p) {
             if (p.ndim() != 1 || p.shape(0) != n.param_count())
               throw std::invalid_argument("params: expected a flat array of " + std::to_string(n.param_count()) +
                                           " values");
             auto lock = claim(n);
             std::copy(p.data(), p.data() + p.shape(0), n.params().data());
             n.forget_dead();
           })
      .def(
          "set_l1_clipping",
          [](Net& n, bool on) {
            auto lock = claim(n);
            n.set_l1_clipping(on);
          },
          py::arg("on"),
          "The TensorFlow Playground's L1 with plain SGD: a kernel weight that a step's L1 term carries "
          "across zero becomes 0 and stays 0 (a dead link) until the parameters are set again")
      .def_property_readonly("l1_clipping",
                             [](Net& n) {
                               auto lock = claim(n);
                               return n.l1_clipping();
                             })
      .def("get_grads",
           [](Net& n) {
             auto lock = claim(n);
             Array<S> out(n.param_count());
             std::copy(n.grads().data(), n.grads().data() + n.param_count(), out.mutable_data());
             return out;
           })
      .def(
          "set_loss",
          [](Net& n, int kind, bool from_logits, double delta, double gamma, double alpha, bool class_balancing) {
            auto lock = claim(n);
            n.set_loss(loss_from_int(kind), from_logits, LossParams{delta, gamma, alpha, class_balancing});
          },
          py::arg("kind"), py::arg("from_logits") = false, py::arg("delta") = LossParams{}.delta,
          py::arg("gamma") = LossParams{}.gamma, py::arg("alpha") = LossParams{}.alpha,
          py::arg("class_balancing") = LossParams{}.class_balancing,
          "The loss (LossKind's code), whether the output is read as logits, and the losses' "
          "arguments (LossParams): Huber's delta, the focal losses' gamma and alpha, and whether "
          "the binary one applies alpha (class_balancing); the other losses ignore them")
      .def(
          "set_accuracy",
          [](Net& n, int mode, double out_t, double target_t) {
            if (mode < 0 || mode > 3) throw std::invalid_argument("accuracy mode must be 0..3");
            auto lock = claim(n);
            n.set_accuracy(static_cast<AccuracyMode>(mode), out_t, target_t);
          },
          py::arg("mode"), py::arg("output_threshold") = 0.5, py::arg("target_threshold") = 0.5)
      .def(
          "set_confusion_thresholds",
          [](Net& n, const std::vector<double>& thresholds, double positive_above) {
            auto lock = claim(n);
            n.set_confusion_thresholds(thresholds, positive_above);
          },
          py::arg("thresholds"), py::arg("positive_above") = 0.0)
      .def(
          "set_rank_counts",
          [](Net& n, bool on) {
            auto lock = claim(n);
            n.set_rank_counts(on);
          },
          py::arg("on"))
      .def(
          "set_max_counts",
          [](Net& n, bool on) {
            auto lock = claim(n);
            n.set_max_counts(on);
          },
          py::arg("on"))
      .def(
          "set_error_metrics",
          [](Net& n, bool sq, bool ab) {
            auto lock = claim(n);
            n.set_error_metrics(sq, ab);
          },
          py::arg("squared"), py::arg("absolute"))
      .def(
          "set_weighted_metrics",
          [](Net& n, bool on) {
            auto lock = claim(n);
            n.set_weighted_metrics(on);
          },
          py::arg("on"), "Count the metrics again, weighted, in the calls given sample weights (Sums.weighted)")
      .def(
          "set_error_targets",
          [](Net& n, double scale, double offset) {
            auto lock = claim(n);
            n.set_error_targets(scale, offset);
          },
          py::arg("scale"), py::arg("offset"))
      .def("trainable", &Net::trainable, py::arg("layer"))
      .def("trains", &Net::trains, "Whether a step trains anything (some layer with weights is not frozen).")
      .def(
          "set_frozen_layers",
          [](Net& n, const std::vector<Index>& frozen) {
            auto lock = claim(n);  // one call: all the layers' flags change, or none
            n.set_frozen_layers(frozen);
          },
          py::arg("frozen"),
          "Freeze exactly these engine layers (indices), unfreeze the others: their parameters and "
          "optimizer slots stay.")
      .def(
          "set_clipping",
          [](Net& n, double clipnorm, double clipvalue, double global_clipnorm) {
            auto lock = claim(n);
            n.set_clipping(clipnorm, clipvalue, global_clipnorm);
          },
          py::arg("clipnorm") = 0.0, py::arg("clipvalue") = 0.0, py::arg("global_clipnorm") = 0.0)
      .def("set_optimizer",
           [](Net& n, const OptimizerConfig& c) {
             auto lock = claim(n);
             n.optimizer().configure(c);
             n.forget_dead();  // (dead links are the rule's under the optimizer before)
           })
      .def("set_learning_rate",
           [](Net& n, double lr) {
             auto lock = claim(n);
             n.optimizer().set_learning_rate(lr);
           })
      .def(
          "set_learning_rates",
          [](Net& n, std::int64_t first, const py::array_t<double, py::array::c_style | py::array::forcecast>& rates) {
            if (rates.ndim() != 1) throw std::invalid_argument("learning rates: expected a 1-d array");
            std::vector<double> table(rates.data(), rates.data() + rates.size());
            auto lock = claim(n);
            n.optimizer().set_learning_rates(first, std::move(table));
          },
          py::arg("first"), py::arg("rates"),
          "A learning rate for each step from step `first` on (a schedule's values); an empty "
          "array: the constant rate again")
      .def_property_readonly("iterations",
                             [](Net& n) {
                               auto lock = claim(n);
                               return n.optimizer().iterations();
                             })
      .def("get_optimizer_state",
           [](Net& n) {
             auto lock = claim(n);
             py::list slots;
             for (const auto& v : n.optimizer().slots()) {
               Array<S> a(v.size());
               std::copy(v.data(), v.data() + v.size(), a.mutable_data());
               slots.append(a);
             }
             return py::make_tuple(n.optimizer().iterations(), slots, n.optimizer().scalars());
           },
           "(iterations, slot arrays, scalars): the scalars are Nadam's u_product (none before the "
           "first step, none for the other optimizers)")
      .def(
          "set_optimizer_state",
          [](Net& n, std::int64_t iterations, const std::vector<Array<S>>& slots, const std::vector<double>& scalars) {
            auto lock = claim(n);
            std::vector<Vec<S>> copy;
            for (const auto& a : slots) {
              if (a.ndim() != 1 || a.shape(0) != n.param_count())
                throw std::invalid_argument("optimizer state: each slot must hold " + std::to_string(n.param_count()) +
                                            " values");
              copy.emplace_back(Eigen::Map<const Vec<S>>(a.data(), a.shape(0)));
            }
            n.optimizer().set_state(iterations, std::move(copy), scalars, n.param_count());
          },
          py::arg("iterations"), py::arg("slots"), py::arg("scalars"))
      .def("get_rng_state",
           [](Net& n) {
             auto lock = claim(n);
             return n.random().state();
           })
      .def("set_rng_state",
           [](Net& n, const std::array<std::uint64_t, 4>& s) {
             auto lock = claim(n);
             n.random().set_state(s);
           })
      .def(
          "train_on_batch",
          [](Net& n, const Array<S>& x, const Array<S>& y, const std::optional<Array<S>>& w) {
            auto X = as_matrix(x, "x");
            auto Y = as_matrix(y, "y");
            const S* W = sample_weights(w, X.rows());
            auto lock = claim(n);
            py::gil_scoped_release release;
            return n.train_on_batch(X, Y, W);
          },
          py::arg("x"), py::arg("y"), py::arg("w") = py::none())
      .def(
          "begin_epoch",
          [](Net& n, Index samples, bool shuffle) {
            auto lock = claim(n);
            n.begin_epoch(samples, shuffle);
          },
          py::arg("samples"), py::arg("shuffle"))
      .def(
          "train_steps",
          [](Net& n, const Array<S>& x, const Array<S>& y, Index batch_size, std::int64_t max_steps,
             double max_seconds, const std::optional<Array<S>>& w, bool check_x) {
            auto X = as_matrix(x, "x");
            auto Y = as_matrix(y, "y");
            const S* W = sample_weights(w, X.rows());
            auto lock = claim(n);
            py::gil_scoped_release release;
            return n.train_steps(X, Y, batch_size, max_steps, max_seconds, W, check_x);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("max_steps"), py::arg("max_seconds") = 0.0,
          py::arg("w") = py::none(), py::arg("check_x") = false,
          "check_x: each batch's rows of x checked for NaN / infinity before its step (ValueError; "
          "the steps before it stay done)")
      .def(
          "train_epochs",
          [](Net& n, const Array<S>& x, const Array<S>& y, Index batch_size, Index epochs, bool shuffle,
             double max_seconds) {
            auto X = as_matrix(x, "x");
            auto Y = as_matrix(y, "y");
            auto lock = claim(n);
            py::gil_scoped_release release;
            return n.train_epochs(X, Y, batch_size, epochs, shuffle, max_seconds);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("epochs"), py::arg("shuffle"),
          py::arg("max_seconds") = 0.0)
      .def_property_readonly("epoch_done", &Net::epoch_done)
      .def_property_readonly("epoch_position", &Net::epoch_position)
      .def_property_readonly("last_batch_sparse", &Net::last_batch_sparse,
                             "Whether the last batch ran the first layer on its nonzeros only.")
      .def("threads_for", &Net::threads_for, py::arg("rows"), "Threads a call on batches of `rows` rows uses.")
      .def(
          "evaluate",
          [](Net& n, const Array<S>& x, const Array<S>& y, Index batch_size, const std::optional<Array<S>>& w) {
            auto X = as_matrix(x, "x");
            auto Y = as_matrix(y, "y");
            const S* W = sample_weights(w, X.rows());
            auto lock = claim(n);
            py::gil_scoped_release release;
            return n.evaluate(X, Y, batch_size, W);
          },
          py::arg("x"), py::arg("y"), py::arg("batch_size"), py::arg("w") = py::none())
      .def(
          "predict",
          [](Net& n, const Array<S>& x, Index batch_size, bool check_finite) {
            auto X = as_matrix(x, "x");
            Array<S> out({X.rows(), n.output_dim()});
            MatMap<S> O(out.mutable_data(), X.rows(), n.output_dim());
            auto lock = claim(n);
            py::gil_scoped_release release;
            n.predict(X, O, batch_size, check_finite);
            return out;
          },
          py::arg("x"), py::arg("batch_size"), py::arg("check_finite") = false)
      .def(
          "loss_and_gradient",
          [](Net& n, const Array<S>& x, const Array<S>& y) {
            auto X = as_matrix(x, "x");
            auto Y = as_matrix(y, "y");
            auto lock = claim(n);
            double loss;
            {
              py::gil_scoped_release release;
              loss = n.loss_and_gradient(X, Y);
            }
            Array<S> g(n.param_count());
            std::copy(n.grads().data(), n.grads().data() + n.param_count(), g.mutable_data());
            return py::make_tuple(loss, g);
          },
          py::arg("x"), py::arg("y"));
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "fastmlp's C++ engine (Eigen): dense layers, losses, optimizers and the training loop.";

  py::class_<LayerSpec>(m, "LayerSpec")
      .def(py::init([](int kind, Index units, int activation, bool use_bias, double rate, double kernel_l1,
                       double kernel_l2, double bias_l1, double bias_l2, bool invert, double momentum,
                       double epsilon, bool scale, bool center, double negative_slope,
                       std::optional<double> max_value, double threshold, double leaky_slope, double alpha,
                       bool shared_alpha) {
             if (kind < 0 || kind > static_cast<int>(LayerKind::PRelu))
               throw std::invalid_argument("LayerSpec: unknown layer kind");
             LayerSpec s;
             s.kind = static_cast<LayerKind>(kind);
             s.units = units;
             s.activation = activation_from_int(activation);
             ActivationParams& p = s.activation_params;
             p.negative_slope = negative_slope;
             if (max_value) p.max_value = *max_value;
             p.threshold = threshold;
             p.leaky_slope = leaky_slope;
             p.alpha = alpha;
             s.shared_alpha = shared_alpha;
             s.use_bias = use_bias;
             s.rate = rate;
             s.kernel_penalty = {kernel_l1, kernel_l2};
             s.bias_penalty = {bias_l1, bias_l2};
             s.invert = invert;
             s.momentum = momentum;
             s.epsilon = epsilon;
             s.scale = scale;
             s.center = center;
             return s;
           }),
           py::arg("kind"), py::arg("units") = 0, py::arg("activation") = 0, py::arg("use_bias") = true,
           py::arg("rate") = 0.0, py::arg("kernel_l1") = 0.0, py::arg("kernel_l2") = 0.0, py::arg("bias_l1") = 0.0,
           py::arg("bias_l2") = 0.0, py::arg("invert") = false, py::arg("momentum") = 0.99,
           py::arg("epsilon") = 1e-3, py::arg("scale") = true, py::arg("center") = true,
           py::arg("negative_slope") = 0.0, py::arg("max_value") = py::none(), py::arg("threshold") = 0.0,
           py::arg("leaky_slope") = kLeakySlope, py::arg("alpha") = 1.0, py::arg("shared_alpha") = false,
           "kind: LayerKind's code; the activation's arguments: relu's negative_slope, max_value (None: "
           "none) and threshold, leaky_relu's negative slope (leaky_slope), elu's alpha; PRelu: "
           "shared_alpha, one alpha for all the features; kernel_l1, kernel_l2: on Dense's kernel, "
           "BatchNormalization's gamma, PRelu's alpha")
      // Read back by engines written in Python (the GPU engine), which take the same specs.
      .def_property_readonly("kind", [](const LayerSpec& s) { return static_cast<int>(s.kind); })
      .def_readonly("units", &LayerSpec::units)
      .def_property_readonly("activation", [](const LayerSpec& s) { return static_cast<int>(s.activation); })
      .def_readonly("use_bias", &LayerSpec::use_bias)
      .def_readonly("rate", &LayerSpec::rate)
      .def_readonly("invert", &LayerSpec::invert)
      .def_readonly("momentum", &LayerSpec::momentum)
      .def_readonly("epsilon", &LayerSpec::epsilon)
      .def_readonly("scale", &LayerSpec::scale)
      .def_readonly("center", &LayerSpec::center)
      .def_readonly("shared_alpha", &LayerSpec::shared_alpha)
      .def_property_readonly("negative_slope", [](const LayerSpec& s) { return s.activation_params.negative_slope; })
      .def_property_readonly("max_value",
                             [](const LayerSpec& s) -> std::optional<double> {
                               if (!s.activation_params.has_max()) return std::nullopt;
                               return s.activation_params.max_value;
                             })
      .def_property_readonly("threshold", [](const LayerSpec& s) { return s.activation_params.threshold; })
      .def_property_readonly("leaky_slope", [](const LayerSpec& s) { return s.activation_params.leaky_slope; })
      .def_property_readonly("alpha", [](const LayerSpec& s) { return s.activation_params.alpha; })
      .def_property_readonly("kernel_l1", [](const LayerSpec& s) { return s.kernel_penalty.l1; })
      .def_property_readonly("kernel_l2", [](const LayerSpec& s) { return s.kernel_penalty.l2; })
      .def_property_readonly("bias_l1", [](const LayerSpec& s) { return s.bias_penalty.l1; })
      .def_property_readonly("bias_l2", [](const LayerSpec& s) { return s.bias_penalty.l2; });

  py::class_<OptimizerConfig>(m, "OptimizerConfig")
      .def(py::init([](int kind) {
             if (kind < 0 || kind >= static_cast<int>(OptimizerKind::Count_))
               throw std::invalid_argument("OptimizerConfig: unknown optimizer kind");
             OptimizerConfig c;
             c.kind = static_cast<OptimizerKind>(kind);
             return c;
           }),
           py::arg("kind"))
      .def_property_readonly("kind", [](const OptimizerConfig& c) { return static_cast<int>(c.kind); })
      .def_readwrite("learning_rate", &OptimizerConfig::learning_rate)
      .def_readwrite("momentum", &OptimizerConfig::momentum)
      .def_readwrite("nesterov", &OptimizerConfig::nesterov)
      .def_readwrite("beta_1", &OptimizerConfig::beta_1)
      .def_readwrite("beta_2", &OptimizerConfig::beta_2)
      .def_readwrite("epsilon", &OptimizerConfig::epsilon)
      .def_readwrite("amsgrad", &OptimizerConfig::amsgrad)
      .def_readwrite("rho", &OptimizerConfig::rho)
      .def_readwrite("centered", &OptimizerConfig::centered)
      .def_readwrite("initial_accumulator_value", &OptimizerConfig::initial_accumulator_value)
      .def_readwrite("learning_rate_power", &OptimizerConfig::learning_rate_power)
      .def_readwrite("l1_regularization_strength", &OptimizerConfig::l1_regularization_strength)
      .def_readwrite("l2_regularization_strength", &OptimizerConfig::l2_regularization_strength)
      .def_readwrite("l2_shrinkage_regularization_strength", &OptimizerConfig::l2_shrinkage_regularization_strength)
      .def_readwrite("beta", &OptimizerConfig::beta)
      .def_readwrite("weight_decay", &OptimizerConfig::weight_decay);

  py::class_<MetricSums>(m, "MetricSums")
      .def_readonly("correct", &MetricSums::correct)
      .def_readonly("compared", &MetricSums::compared)
      .def_readonly("squared_error", &MetricSums::squared_error)
      .def_readonly("absolute_error", &MetricSums::absolute_error)
      .def_readonly("weight", &MetricSums::weight)
      .def_property_readonly("positive_buckets",
                             [](const MetricSums& s) { return buckets_array(s.positive_buckets); })
      .def_property_readonly("negative_buckets",
                             [](const MetricSums& s) { return buckets_array(s.negative_buckets); })
      .def_property_readonly("ranks", [](const MetricSums& s) { return buckets_array(s.ranks); })
      .def_property_readonly("max_counts", [](const MetricSums& s) { return buckets_array(s.max_counts); });

  py::class_<Sums, MetricSums>(m, "Sums")
      .def_readonly("steps", &Sums::steps)
      .def_readonly("samples", &Sums::samples)
      .def_readonly("loss", &Sums::loss)
      .def_property_readonly(
          "weighted", [](const Sums& s) { return s.weighted; },
          "The metrics' counts weighted by the sample weights, or None (no weights, or not asked for).");

  bind_network<float>(m, "NetworkF32");
  bind_network<double>(m, "NetworkF64");

  m.def("set_num_threads", &set_max_threads, py::arg("threads"),
        "Most threads for batches of 32 samples and more (0: all cores); smaller batches use one.");
  m.def("get_num_threads", &max_threads);
  m.def("set_parallel_work", &set_parallel_work, py::arg("multiply_adds"),
        "Multiply-adds a step (rows x parameters) needs to use more than one thread (0: any batch of "
        "32 rows or more; for tests of the parallel paths).");
  m.def("get_parallel_work", &parallel_work);
  m.def("set_sparse_inputs", &set_sparse_inputs, py::arg("enabled"),
        "Whether a first Dense layer runs on the nonzeros of sparse float32 inputs.");
  m.def("get_sparse_inputs", &sparse_inputs);
  // (C-contiguous float32 / float64 only: the overloads match without a conversion or copy)
  auto finite = [](auto array) {
    const auto n = static_cast<Index>(array.size());
    const auto* data = array.data();
    py::gil_scoped_release release;
    return all_finite(data, n, max_threads());
  };
  m.def("all_finite", [=](py::array_t<float, py::array::c_style> a) { return finite(a); }, py::arg("array"));
  m.def("all_finite", [=](py::array_t<double, py::array::c_style> a) { return finite(a); }, py::arg("array"),
        "Whether a C-contiguous float32 / float64 array holds no NaN or infinity (on the engine's threads).");
  m.def(
      "load_blas",
      [](const std::string& path) {
        py::gil_scoped_release release;
        return blas::load(path);
      },
      py::arg("path"), "Use cblas GEMM from this shared library ('' = Eigen only); returns what was found.");
  m.def("blas_info", &blas::description);
  m.def(
      "_worker_flush_modes",
      []() {
        // Whether each OpenMP worker flushes subnormals now (MXCSR FTZ|DAZ), in a region of the
        // pool the engine uses: for tests that the engine leaves the workers as it found them.
        std::vector<int> modes;  // (not vector<bool>: its bits share words between threads)
#if defined(FASTMLP_HAVE_OPENMP) && defined(FASTMLP_HAVE_MXCSR)
        modes.resize(static_cast<std::size_t>(max_threads()));
#pragma omp parallel num_threads(max_threads())
        modes[static_cast<std::size_t>(omp_get_thread_num())] = (_mm_getcsr() & FlushScope::kFtzDaz) != 0;
#endif
        return modes;
      },
      "Per OpenMP thread of the engine's pool: whether it flushes subnormals to zero now.");
  m.def("build_info", []() {
    py::dict d;
    d["eigen"] = std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
                 std::to_string(EIGEN_MINOR_VERSION);
    d["simd"] = std::string(Eigen::SimdInstructionSetsInUse());
    d["sparse_kernels"] = kSparseKernels;
    d["tiny_kernels"] = kTinyKernels;
    d["small_kernels"] = kSmallKernels;
#ifdef FASTMLP_HAVE_OPENMP
    d["openmp"] = true;
#else
    d["openmp"] = false;
#endif
    return d;
  });
}
