"""`Playground`: one experiment of the TensorFlow Neural Network Playground, run by fastmlp.

An experiment is a dataset, the features fed to the network, the network and the training rule.
It trains epoch by epoch and records the train and test loss after every epoch, as the
playground's line chart does.

Two training rules, one argument apart:

- ``mode="playground"`` reproduces the original (`nn.ts`): a tanh output (linear for regression)
  trained on ±1 labels with ½·(output - label)², plain SGD averaged over each batch of 10 in a
  fixed order, L1/L2 on the weights only (not the biases), L1 setting a weight it carries across
  zero to 0 for good (a dead link, as the original's; with SGD, on the CPU engine), initial
  weights U(-0.5, 0.5) and biases 0.1.
- ``mode="modern"`` is what one would write in Keras today: a sigmoid output with binary
  cross-entropy on {0, 1} labels (linear output and MSE for regression), Adam, Glorot-uniform
  weights and zero biases, reshuffled every epoch.

The optimizer is the mode's (SGD, Adam) unless `optimizer=` names another. The learning rate is
the step size on the loss the experiment reports, whatever the optimizer: in playground mode the
engine minimises mean((output - label)²), whose gradient is twice the playground's, so SGD gets
half the rate and takes the playground's steps exactly; Adam, RMSprop, Adagrad and Adadelta divide
the gradient by its running size, so they get the rate as it is. An optimizer object is used as it
is, with its own rate (an SGD object in playground mode then steps twice as far as
``optimizer="sgd"`` with the same rate).

Example:
    >>> pg = Playground("spiral", hidden=(8, 8), noise=0.1, mode="modern", seed=0).fit(300)
    >>> pg.history["test_loss"][-1], pg.evaluate()["test_accuracy"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

import fastmlp as fm
from fastmlp._validation import warn_user
from fastmlp.datasets import playground as datasets
from fastmlp.playground import _settings as check
from fastmlp.playground._network import dense_layers, layer_outputs
from fastmlp.playground._settings import MODES
from fastmlp.playground.features import canonical_feature
from fastmlp.playground.features import features as feature_matrix

__all__ = ["MODES", "Playground", "dense_layers", "layer_outputs"]


class _Recorder(fm.callbacks.Callback):
    """Records the playground's losses after every epoch (from the weights, in NumPy)."""

    def __init__(self, playground: Playground) -> None:
        super().__init__()
        self.playground = playground

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self.playground._record()


class Playground:
    """A playground experiment: data, features, network and training rule, trained by epochs.

    Args:
        dataset: "circle", "xor", "gauss", "spiral", "reg_plane" or "reg_gauss", or a tuple
            (x, y) of points of shape (n, 2) and their labels or real targets. Labels of two
            values are the two classes: ±1 and {0, 1} as they are, any other two (1 and 2,
            "no" and "yes") the smaller as -1 (orange) and the larger as +1 (blue), with a
            `LabelWarning` (a UserWarning) that says so. More than two whole-number labels
            raise a ValueError: the playground is binary, as the TensorFlow Playground is
            (draw a multi-class `Sequential` with `decision_boundary(model, train=(x, y))`).
            Other numbers are regression targets. Defaults to "circle" (the playground's first
            screen).
        features: Inputs of the network, among x1, x2, x1^2, x2^2, x1*x2, sin(x1), sin(x2).
            Defaults to ("x1", "x2").
        hidden: Units of each hidden layer; () or 0 is a network without hidden layers (a linear
            model). Defaults to (4, 2), the playground's default network.
        activation: Activation of the hidden layers: the Playground's "tanh", "relu", "sigmoid"
            and "linear", or any other of fastmlp's ("elu", "leaky_relu", ...).
            Defaults to "tanh".
        learning_rate: Step size on the loss the experiment reports, for every optimizer named
            (in playground mode SGD gets half of it, as the module's docstring explains).
            Defaults to None: 0.03, the playground's, or an optimizer object's own rate.
        regularization: None, "l1" or "l2", on the weights. Defaults to None.
        regularization_rate: Its rate. Defaults to 0.0. Setting only one of the two does nothing
            and warns (`RegularizationWarning`, a UserWarning).
        batch_size: Samples per gradient step. Defaults to 10.
        ratio: Fraction of the data used for training. Defaults to 0.5.
        noise: Noise level of the generated data, in [0, 0.5]. Defaults to 0.0.
        n_samples: Number of generated points. Defaults to None: 500 for classification, 1200
            for regression.
        mode: "playground" (the original's training rule) or "modern" (cross-entropy, Adam,
            Glorot). Defaults to "playground".
        optimizer: "sgd", "adam", "adamw", "rmsprop", "adagrad" or "adadelta" (made with
            `learning_rate` and Keras's other defaults), or a `fastmlp.optimizers.Optimizer`, used
            as it is. Defaults to None: the mode's, "sgd" in playground mode, "adam" in modern.
        init: Initial weights: "playground" (weights U(-0.5, 0.5), biases 0.1), "glorot"
            (Glorot-uniform weights, zero biases) or "zeros" (everything 0). Defaults to None:
            "playground" in playground mode, "glorot" in modern mode.
        seed: Seed of the initial weights and the shuffling. Defaults to None (a random seed,
            kept in `self.seed`).
        data_seed: Seed of the data and of the train/test split. Defaults to None (`seed`).
        problem: "classification" or "regression", to say what custom labels are instead of
            letting their values tell (whole numbers can then be regression targets; two values
            are the classes without a warning). Defaults to None (from the labels; a named
            dataset's own kind, which a different value contradicts with a ValueError).

    Attributes:
        model: The `fastmlp.Sequential` model being trained.
        optimizer: The optimizer's name, or the optimizer object given.
        learning_rate: The learning rate given, or the optimizer object's.
        x_train, y_train, x_test, y_test: The points (n, 2) and their labels (±1) or targets.
        classification: True for a classification problem, False for regression.
        classes: (label taken as -1, label taken as +1) of the dataset, e.g. (-1, 1), (0, 1) or
            (1, 2); None for regression.
        history: {"loss": [...], "test_loss": [...]} after every epoch, plus "accuracy" and
            "test_accuracy" for classification.
        before_training: The same measures before the first epoch (taken when `fit` first
            trains, so changes to the model until then count), or None until then.
        epoch: Number of epochs trained so far.
    """

    def __init__(
        self,
        dataset: str | tuple[Any, Any] = "circle",
        features: Sequence[str] = ("x1", "x2"),
        hidden: Sequence[int] | int = (4, 2),
        activation: str = "tanh",
        learning_rate: float | None = None,
        regularization: str | None = None,
        regularization_rate: float = 0.0,
        batch_size: int = 10,
        ratio: float = 0.5,
        noise: float = 0.0,
        n_samples: int | None = None,
        mode: str = "playground",
        optimizer: str | fm.optimizers.Optimizer | None = None,
        init: str | None = None,
        seed: int | None = None,
        data_seed: int | None = None,
        problem: str | None = None,
    ) -> None:
        self.mode = check.choice(mode, MODES, "mode")
        self.init = self._resolve_init(init)
        self.seed = check.seed(seed, "seed")
        self.data_seed = self.seed if data_seed is None else check.seed(data_seed, "data_seed")
        feature_matrix(np.zeros((1, 2)), features)  # checks the names once
        self.feature_names = [canonical_feature(name) for name in features]
        self.hidden = check.hidden_units(hidden)
        self.activation = fm.activations.serialize(activation)
        self.optimizer, self.learning_rate = check.optimizer_and_rate(
            optimizer, learning_rate, self.mode
        )
        self.regularization = None
        if regularization not in (None, "none"):
            self.regularization = check.choice(regularization, ("l1", "l2"), "regularization")
        self.regularization_rate = check.number(regularization_rate, "regularization_rate")
        names = ("regularization", "regularization_rate")
        half_set = check.regularization_problem(
            self.regularization, self.regularization_rate, names
        )
        if half_set:
            warn_user(half_set, check.RegularizationWarning)
        self.batch_size = check.positive_int(batch_size, "batch_size")
        self.ratio, self.noise = check.number(ratio, "ratio"), check.number(noise, "noise")

        self.problem = None if problem is None else check.choice(problem, check.PROBLEMS, "problem")
        x, y = self._make_data(dataset, n_samples)
        (self.x_train, self.y_train), (self.x_test, self.y_test) = datasets.train_test_split(
            x, y, ratio, seed=self.data_seed + 1
        )
        self.model = self._build_model()
        dtype = self.model.dtype
        self._inputs_train = feature_matrix(self.x_train, self.feature_names).astype(dtype)
        self._inputs_test = feature_matrix(self.x_test, self.feature_names).astype(dtype)
        self._inputs_all = np.concatenate([self._inputs_train, self._inputs_test])
        self._targets_train = self._engine_targets(self.y_train).astype(dtype)
        self.epoch = 0
        keys = ["loss", "test_loss"] + (
            ["accuracy", "test_accuracy"] if self.classification else []
        )
        self.history: dict[str, list[float]] = {key: [] for key in keys}
        self.before_training: dict[str, float] | None = None

    # -- construction -------------------------------------------------------------------------
    def _resolve_init(self, init: str | None) -> str:
        if init is None:
            return "playground" if self.mode == "playground" else "glorot"
        return check.choice(init, check.INITS, "init")

    def _make_data(self, dataset: Any, n_samples: int | None) -> tuple[np.ndarray, np.ndarray]:
        if isinstance(dataset, str):
            self.dataset = datasets.canonical_name(dataset)
            self.classification = self.dataset in datasets.CLASSIFICATION
            self.classes = (-1, 1) if self.classification else None
            kind = "classification" if self.classification else "regression"
            if self.problem not in (None, kind):
                raise ValueError(
                    f"problem={self.problem!r} does not fit {self.dataset}, a {kind} dataset"
                )
            return datasets.load(self.dataset, n_samples, self.noise, self.data_seed)
        if not isinstance(dataset, (tuple, list)) or len(dataset) != 2:
            raise TypeError("dataset must be a name such as 'spiral' or a tuple (x, y)")
        x = np.asarray(dataset[0], dtype=np.float64)
        if x.ndim != 2 or x.shape[1] != 2:
            raise ValueError(f"dataset: expected points x of shape (n, 2), got {x.shape}")
        if not np.isfinite(x).all():
            raise ValueError("dataset: the points x contain NaN or infinity; drop or fix them")
        self.dataset = "custom"
        y, self.classes, note = check.custom_labels(dataset[1], len(x), self.problem)
        if note:
            warn_user(note, check.LabelWarning)
        self.classification = self.classes is not None
        return x, y

    def _layer(self, units: int, activation: str) -> fm.layers.Dense:
        if self.init == "playground":
            kernel: Any = fm.initializers.RandomUniform(-0.5, 0.5)  # Math.random() - 0.5
            bias: Any = fm.initializers.Constant(0.1)
        elif self.init == "zeros":
            kernel = bias = "zeros"
        else:
            kernel, bias = "glorot_uniform", "zeros"
        regularizer = None
        if self.regularization is not None and self.regularization_rate > 0:
            rate = self.regularization_rate
            if self.mode == "playground":
                # The engine's loss gradient is twice the playground's (mean squared error, not
                # half of it); its L2 gradient 2·rate·w and L1 gradient rate'·sign(w) are twice
                # the playground's rate·w and rate·sign(w) when rate' = 2·rate, so the whole
                # gradient is twice the playground's (see _settings.engine_optimizer).
                rate = rate if self.regularization == "l2" else 2 * rate
            regularizer = (
                fm.regularizers.L2(rate)
                if self.regularization == "l2"
                else fm.regularizers.L1(rate)
            )
        return fm.layers.Dense(
            units,
            activation=activation,
            kernel_initializer=kernel,
            bias_initializer=bias,
            kernel_regularizer=regularizer,  # the playground regularises weights, not biases
        )

    def _build_model(self) -> fm.Sequential:
        if self.classification:
            output = "tanh" if self.mode == "playground" else "sigmoid"
        else:
            output = "linear"
        layers: list[Any] = [fm.layers.Input(shape=(len(self.feature_names),))]
        layers += [self._layer(units, self.activation) for units in self.hidden]
        layers.append(self._layer(1, output))
        model = fm.Sequential(layers, seed=self.seed)
        if self.mode == "playground":
            loss = "mse"  # mean((y - a)²), twice the playground's ½·(y - a)²: see engine_optimizer
        else:
            loss = "binary_crossentropy" if self.classification else "mse"
        optimizer = check.engine_optimizer(self.optimizer, self.learning_rate, self.mode)
        # nn.ts: a weight that L1 carries across zero is set to 0 and stays there (a dead link);
        # the CPU engine does that in plain SGD steps (kept by copies and saved models)
        model._l1_clipping = self.mode == "playground" and self.regularization == "l1"
        model.compile(optimizer=optimizer, loss=loss)
        return model

    def _engine_targets(self, y: np.ndarray) -> np.ndarray:
        if self.classification and self.mode == "modern":
            return (y > 0).astype(np.float64)[:, None]  # {0, 1} for binary cross-entropy
        return y[:, None]

    # -- training -----------------------------------------------------------------------------
    def fit(self, epochs: int = 100, callbacks: list[Any] | None = None) -> Playground:
        """Train for more epochs and record the losses after each one.

        Args:
            epochs: Number of epochs (passes over the training points) to add. Defaults to 100.
            callbacks: Keras callbacks for the model's `fit`. Defaults to None.

        Returns:
            The experiment itself, so that `Playground(...).fit(300)` reads naturally.
        """
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"epochs must be a non-negative integer, got {epochs!r}")
        if epochs == 0:
            return self
        if self.before_training is None:
            self.before_training = self.evaluate()
        first = self.epoch
        self.model.fit(
            self._inputs_train,
            self._targets_train,
            batch_size=self.batch_size,
            initial_epoch=self.epoch,
            epochs=self.epoch + int(epochs),
            verbose=0,
            # The playground walks its (once shuffled) training points in the same order.
            shuffle=self.mode != "playground",
            callbacks=[_Recorder(self), *(callbacks or [])],
        )
        losses = np.asarray(self.history["loss"][first:], dtype=float)
        if losses.size and not np.isfinite(losses).all():
            at = first + 1 + int(np.argmax(~np.isfinite(losses)))
            warn_user(
                f"training diverged: the loss is not finite from epoch {at} on (learning rate "
                f"{self.learning_rate:g}: try a smaller one)",
                RuntimeWarning,
            )
        return self

    def _record(self) -> None:
        self.epoch += 1
        for key, value in self.evaluate().items():
            self.history[key].append(value)

    # -- inference ----------------------------------------------------------------------------
    def _signed(self, output: np.ndarray) -> np.ndarray:
        """Network output on the playground's scale: [-1, 1] for classification."""
        if self.classification and self.mode == "modern":
            return 2 * output - 1  # probability of +1 -> [-1, 1]
        return output

    def predict(self, points: Any) -> np.ndarray:
        """The network's output for points of the plane: in [-1, 1] for classification.

        Args:
            points: Points, shape (n, 2).

        Returns:
            Shape (n,): tanh output in playground mode, 2·p - 1 with p the sigmoid output in modern
            mode (so the sign is the predicted class in both), the raw output for regression.
        """
        return self._signed(self._raw_output(points))

    def neuron_outputs(self, points: Any) -> list[np.ndarray]:
        """What every neuron outputs at `points`: the features, each hidden layer, the output.

        Args:
            points: Points, shape (n, 2).

        Returns:
            [features (n, len(features)), hidden layer 1 (n, units), ..., output (n, 1)]; the
            output is on the scale of `predict`.
        """
        outputs = layer_outputs(self.model, feature_matrix(points, self.feature_names))
        outputs[-1] = self._signed(outputs[-1])
        return outputs

    def _raw_output(self, points: Any) -> np.ndarray:
        return self._output_of(feature_matrix(points, self.feature_names))

    def _output_of(self, inputs: np.ndarray) -> np.ndarray:
        # The engine's own forward pass (the one training uses): a NumPy pass over the weights in
        # float64 took 6x as long as this predict (280 vs 44 us for 500 points) and was most of an
        # epoch's time, since the history evaluates the model after every epoch.
        inputs = np.asarray(inputs, dtype=self.model.dtype)
        if len(inputs) == 0:
            return np.empty(0)
        out = self.model.predict(inputs, verbose=0)
        return np.asarray(out, dtype=np.float64)[:, 0]

    def _loss_of(self, out: np.ndarray, y: np.ndarray) -> float:
        if self.mode == "playground":
            d = out - y  # (a dot product: np.mean's overhead was a tenth of an epoch)
            return 0.5 * float(d @ d) / d.size if d.size else float("nan")
        return float(self.model.loss(self._engine_targets(y), out[:, None]))

    def loss(self, points: Any, y: Any) -> float:
        """The loss the experiment reports on (points, y), without regularisation.

        Args:
            points: Points, shape (n, 2).
            y: Labels ±1 (classification) or targets (regression), shape (n,).

        Returns:
            ½·mean((output - y)²) in playground mode (the playground's loss); binary cross-entropy
            (classification) or mean squared error (regression) in modern mode.
        """
        return self._loss_of(self._raw_output(points), np.asarray(y, np.float64).reshape(-1))

    def accuracy(self, points: Any, y: Any) -> float:
        """Fraction of points whose predicted sign matches their ±1 label (classification only).

        Args:
            points: Points, shape (n, 2).
            y: Labels ±1, shape (n,).
        """
        if not self.classification:
            raise ValueError("accuracy is defined for classification datasets only")
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        return float(np.mean((self.predict(points) > 0) == (y > 0)))

    def evaluate(self) -> dict[str, float]:
        """Current train and test loss (and accuracy, for classification), as in `history`."""
        # one forward pass over train and test points together
        out = self._output_of(self._inputs_all)
        n = len(self.y_train)
        result = {}
        for prefix, out_part, y in (("", out[:n], self.y_train), ("test_", out[n:], self.y_test)):
            result[prefix + "loss"] = self._loss_of(out_part, y)
            if self.classification:
                correct = (self._signed(out_part) > 0) == (y > 0)
                # (train and test sets are never empty: the ratio lies strictly inside (0, 1))
                result[prefix + "accuracy"] = float(np.count_nonzero(correct)) / correct.size
        return {key: result[key] for key in self.history}

    @property
    def weights(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(kernel, bias) of each layer, first to last; kernel has shape (inputs, units)."""
        return [(layer.get_weights()[0], layer.get_weights()[1]) for layer in self.model.layers]

    @property
    def optimizer_name(self) -> str:
        """The optimizer's name: "sgd", "adam", ...; an optimizer object's `name` with its settings
        that differ from the defaults, learning rate aside: "sgd (momentum 0.9, nesterov)"."""
        return check.optimizer_description(self.optimizer)

    def __repr__(self) -> str:
        net = "-".join(str(n) for n in (len(self.feature_names), *self.hidden, 1))
        return (
            f"<Playground {self.dataset} features={self.feature_names} net={net} "
            f"{self.activation} mode={self.mode} optimizer={self.optimizer_name} epoch={self.epoch}>"
        )
