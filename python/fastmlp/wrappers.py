"""scikit-learn wrappers, as Keras 3's `keras.wrappers`: a fastmlp model as a scikit-learn estimator,
for `Pipeline`, `GridSearchCV`, `cross_val_score`, ...

scikit-learn is optional (`pip install "fastmlp[sklearn]"`): `import fastmlp` does not import it,
this module does where it is installed, and the wrappers refuse to be made without it.

Example:
    >>> import fastmlp as fm
    >>> from fastmlp.wrappers import SKLearnClassifier
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> def build(X, y, hidden=16):
    ...     model = fm.Sequential([fm.layers.Input(shape=(X.shape[1],)),
    ...                            fm.layers.Dense(hidden, activation="relu"),
    ...                            fm.layers.Dense(y.shape[1], activation="softmax")])
    ...     model.compile(optimizer="adam", loss="categorical_crossentropy")
    ...     return model
    >>> clf = make_pipeline(StandardScaler(), SKLearnClassifier(
    ...     build, model_kwargs={"hidden": 32}, fit_kwargs={"epochs": 20, "verbose": 0}))
    >>> clf.fit(X_train, y_train).score(X_test, y_test)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fastmlp import _accuracy_rules
from fastmlp import layers as layers_module
from fastmlp import losses as losses_module
from fastmlp import metrics as metrics_module
from fastmlp._loss_base import BinaryCrossentropyBase
from fastmlp.models import Sequential, clone_model

try:
    import sklearn
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, TransformerMixin
except ImportError:  # the classes still exist; making one says what to install
    sklearn = None

    class BaseEstimator:  # type: ignore[no-redef]
        pass

    class ClassifierMixin:  # type: ignore[no-redef]
        pass

    class RegressorMixin:  # type: ignore[no-redef]
        pass

    class TransformerMixin:  # type: ignore[no-redef]
        pass


__all__ = ["SKLearnClassifier", "SKLearnRegressor", "SKLearnTransformer"]


def _validate_data(estimator: Any, *args: Any, **kwargs: Any) -> Any:
    """scikit-learn's input checks: sets n_features_in_ (reset=True) or compares with it."""
    try:
        from sklearn.utils.validation import validate_data  # scikit-learn >= 1.6
    except ImportError:  # pragma: no cover - scikit-learn 1.3 to 1.5
        return estimator._validate_data(*args, **kwargs)
    return validate_data(estimator, *args, **kwargs)


class _SKLearnWrapper(BaseEstimator):
    """What the three wrappers share: the model, its fit, its raw outputs. See SKLearnRegressor."""

    def __init__(
        self,
        model: Any,
        warm_start: bool = False,
        model_kwargs: dict[str, Any] | None = None,
        fit_kwargs: dict[str, Any] | None = None,
    ) -> None:
        if sklearn is None:
            raise ImportError(
                f"{type(self).__name__} needs scikit-learn: pip install scikit-learn "
                '(or pip install "fastmlp[sklearn]")'
            )
        self.model = model
        self.warm_start = warm_start
        self.model_kwargs = model_kwargs
        self.fit_kwargs = fit_kwargs

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")  # (a fit that failed leaves n_features_in_ set)

    def _validate_y(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        """Regressor and transformer: numeric targets, one or more columns."""
        return _validate_data(self, X, y, multi_output=True, y_numeric=True)

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """Targets as the model function sees them: 2-D (Keras's TargetReshaper)."""
        self._y_ndim = y.ndim
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _targets_for(self, model: Sequential, targets: np.ndarray) -> np.ndarray:
        """The targets as `model` trains on them."""
        return targets

    def _get_model(self, X: np.ndarray, y: np.ndarray) -> Sequential:
        """model_ again (warm_start), the model (warm_start) or its clone, or model(X=, y=)."""
        name = type(self).__name__
        if self.warm_start and hasattr(self, "model_"):
            return self.model_
        if isinstance(self.model, Sequential):
            if self.model_kwargs:
                raise ValueError(
                    f"{name}: model_kwargs are the arguments of a model function, but model is a "
                    "Sequential model; pass a function model(X, y, **model_kwargs) instead"
                )
            model = self.model if self.warm_start else clone_model(self.model)
            where = "model"
        elif callable(self.model) and not hasattr(self.model, "fit"):  # (a Keras model is callable)
            model = self.model(X=X, y=y, **(self.model_kwargs or {}))
            where = "the model function's result"
            if not isinstance(model, Sequential):
                raise TypeError(
                    f"{name}: model(X=..., y=..., **model_kwargs) must return a compiled fastmlp "
                    f"Sequential model, got {type(model).__name__}"
                )
        else:
            raise TypeError(
                f"{name}: model must be a compiled fastmlp Sequential model or a function "
                f"model(X, y, **model_kwargs) that returns one, got {type(self.model).__name__}"
            )
        if not model.compiled:
            raise ValueError(
                f"{name}: {where} is not compiled; call model.compile(optimizer=..., loss=...) "
                "before it is given to the wrapper"
            )
        return model

    def fit(self, X: Any, y: Any = None, **kwargs: Any) -> Any:
        """Train a new model (or, with warm_start, the same one further) on (X, y).

        Args:
            X: Samples, shape (samples, features).
            y: Targets, shape (samples,) or (samples, outputs); class labels for the classifier.
                Required (None is refused): the model trains on them.
            **kwargs: Passed to `model.fit` (epochs, batch_size, verbose, callbacks,
                sample_weight, ...), over those of `fit_kwargs`.

        Returns:
            The wrapper itself.
        """
        X, y = self._validate_y(X, y)
        targets = self._encode_targets(y)
        model = self._get_model(X, targets)
        targets = self._targets_for(model, targets)
        self.history_ = model.fit(X, targets, **{**(self.fit_kwargs or {}), **kwargs})
        self.model_ = model
        return self

    def _outputs(self, X: Any) -> np.ndarray:
        """The fitted model's outputs for X, (samples, outputs), after scikit-learn's checks."""
        from sklearn.utils.validation import check_is_fitted

        check_is_fitted(self)
        X = _validate_data(self, X, reset=False)
        return self.model_.predict(X, verbose=0)

    def predict(self, X: Any) -> np.ndarray:
        """The model's outputs for X in float64 (scikit-learn's precision for predictions), in
        y's shape: (samples,) where y was 1-D.

        Args:
            X: Samples, shape (samples, features).
        """
        outputs = self._outputs(X).astype(np.float64, copy=False)
        return outputs[:, 0] if self._y_ndim == 1 and outputs.shape[1] == 1 else outputs


_MODEL_DOC = """
    Args:
        model: A compiled fastmlp `Sequential` model, cloned by `models.clone_model` for each
            fit (the model passed is left as it is) unless warm_start; or a function
            `model(X=..., y=..., **model_kwargs)` that returns a compiled model, called for each
            fit with the checked samples and the 2-D targets{targets}.
        warm_start: Train the model further at each fit: the model passed itself (not a clone),
            then `model_`. Defaults to False.
        model_kwargs: Keyword arguments for the model function. Defaults to None.
        fit_kwargs: Keyword arguments for `model.fit` (epochs, batch_size, verbose, callbacks,
            ...); those given to `fit` take precedence. Defaults to None.

    Attributes:
        model_: The fitted model.
        history_: The `History` that `model.fit` returned (`history_.history["loss"]`).
        n_features_in_: The number of features seen in fit.{attributes}
"""


class SKLearnRegressor(RegressorMixin, _SKLearnWrapper):
    __doc__ = (
        """A fastmlp model as a scikit-learn regressor (Keras's `keras.wrappers.SKLearnRegressor`).

    `predict` returns the model's outputs, 1-D where y was; `score` is R².
"""
        + _MODEL_DOC.format(targets=" ((samples, outputs): a 1-D y as one column)", attributes="")
        + """
    Example:
        >>> def build(X, y):
        ...     model = fm.Sequential([fm.layers.Input(shape=(X.shape[1],)),
        ...                            fm.layers.Dense(32, activation="relu"),
        ...                            fm.layers.Dense(y.shape[1])])
        ...     model.compile(optimizer="adam", loss="mse")
        ...     return model
        >>> reg = SKLearnRegressor(build, fit_kwargs={"epochs": 50, "verbose": 0}).fit(X, y)
"""
    )

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self) -> dict[str, Any]:  # pragma: no cover - scikit-learn < 1.6
        return {"multioutput": True}


class SKLearnClassifier(ClassifierMixin, _SKLearnWrapper):
    __doc__ = (
        """A fastmlp model as a scikit-learn classifier (Keras's `keras.wrappers.SKLearnClassifier`).

    y holds class labels (numbers or strings; binary or multiclass), one-hot encoded over the
    sorted `classes_` as Keras's wrapper does, and the model trains on that, ending in
    `Dense(len(classes_), activation="softmax")` with categorical cross-entropy. Beyond Keras's: a
    model compiled with a sparse loss trains on the class indices, and for two classes a model
    with one output (sigmoid, or logits with `from_logits=True`) on the index of the class, 0 or 1.
    `predict` gives labels (the argmax; for one output, the output above 0.5, or above 0 where it
    is a logit or a hinge / logistic score); `predict_proba` the probabilities, as
    `predict_proba` explains; `decision_function` the raw outputs (for two classes one score,
    scikit-learn's binary form); `score` the accuracy.
"""
        + _MODEL_DOC.format(
            targets=" (one-hot: (samples, classes))",
            attributes="\n        classes_: The class labels, sorted, as in y.",
        )
        + """
    Example:
        >>> def build(X, y):
        ...     model = fm.Sequential([fm.layers.Input(shape=(X.shape[1],)),
        ...                            fm.layers.Dense(32, activation="relu"),
        ...                            fm.layers.Dense(y.shape[1], activation="softmax")])
        ...     model.compile(optimizer="adam", loss="categorical_crossentropy")
        ...     return model
        >>> clf = SKLearnClassifier(build, fit_kwargs={"epochs": 20, "verbose": 0}).fit(X, labels)
        >>> clf.predict(X[:3]), clf.predict_proba(X[:3])
"""
    )

    def _validate_y(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        from sklearn.utils.multiclass import check_classification_targets, type_of_target

        X, y = _validate_data(self, X, y)
        check_classification_targets(y)  # "Unknown label type: continuous ..." for real numbers
        kind = type_of_target(y, input_name="y")
        if kind not in ("binary", "multiclass"):  # pragma: no cover - validate_data refused them
            raise ValueError(
                f"{type(self).__name__}: y must hold binary or multiclass labels, got {kind}"
            )
        return X, y

    def _encode_targets(self, y: np.ndarray) -> np.ndarray:
        """One-hot over the sorted labels (Keras's OneHotEncoder); sets classes_."""
        classes, indices = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{type(self).__name__} needs two or more classes in y; it holds one class: "
                f"{classes[0]!r}"
            )
        self.classes_ = classes
        return np.eye(len(classes))[indices]

    def _targets_for(self, model: Sequential, targets: np.ndarray) -> np.ndarray:
        """One-hot for an output per class; the index for a sparse loss or one output."""
        if not model.built:
            model.build((None, self.n_features_in_))
        outputs, classes = model.output_shape[-1], len(self.classes_)
        indices = np.argmax(targets, axis=1)
        if outputs == 1 and classes == 2 and not model.loss.sparse:
            return indices[:, None].astype(np.float64)
        if outputs != classes:
            raise ValueError(
                f"{type(self).__name__}: the model has {outputs} outputs, y holds {classes} "
                f'classes; end the model in Dense({classes}, activation="softmax") (for two '
                'classes, Dense(1, activation="sigmoid") also does)'
            )
        return indices if model.loss.sparse else targets

    def predict(self, X: Any) -> np.ndarray:
        """Class labels for X, from `classes_`.

        Args:
            X: Samples, shape (samples, features).
        """
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]

    def decision_function(self, X: Any) -> np.ndarray:
        """Scores for X: the model's raw outputs, (samples, classes), as Keras's, for three or
        more classes. For two, scikit-learn's binary form, (samples,), positive for classes_[1]:
        the second output less the first (for softmax logits, the log-odds), or the one output
        less the threshold `predict` uses (0.5, or 0 for logits).

        Args:
            X: Samples, shape (samples, features).
        """
        outputs = self._outputs(X)
        if outputs.shape[1] > 2:
            return outputs
        if outputs.shape[1] == 2:
            return outputs[:, 1] - outputs[:, 0]
        rule = _accuracy_rules.accuracy_rule(
            metrics_module.Accuracy(), self.model_.loss, np.zeros((1, 1))
        )
        return outputs[:, 0] - np.asarray(rule.output_threshold, outputs.dtype)

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities for X, shape (samples, len(classes_)), rows summing to 1.

        The model should end in softmax (one output per class), or in sigmoid (one output for
        two classes: p is that of classes_[1]). Logits (a loss with `from_logits=True`, or the
        logistic loss) go through softmax, or sigmoid where the loss reads each output by
        itself (binary cross-entropy). Sigmoid outputs for more than two classes are divided by
        their sum, one-vs-rest as scikit-learn's OneVsRestClassifier does. Any other output
        (a linear or relu output with mse or hinge, ...) holds no probabilities: a ValueError,
        which points to `decision_function`.

        Args:
            X: Samples, shape (samples, features).
        """
        outputs = self._outputs(X)
        return _probabilities(self.model_, outputs.astype(np.float64))


def _probabilities(model: Sequential, z: np.ndarray) -> np.ndarray:
    """The model's outputs z as probabilities of the classes (see predict_proba)."""
    last = [layer for layer in model.layers if not isinstance(layer, layers_module.Dropout)][-1]
    activation = getattr(getattr(last, "activation", None), "__name__", "none")
    loss = model.loss
    each = z.shape[1] == 1 or isinstance(loss, (BinaryCrossentropyBase, losses_module.LogisticLoss))
    if activation in ("softmax", "sigmoid"):
        p = z
    elif loss.from_logits or isinstance(loss, losses_module.LogisticLoss):
        # sigmoid as exp(-log(1 + e^-z)), which does not overflow; softmax up to its sum
        p = np.exp(-np.logaddexp(0, -z) if each else z - z.max(axis=1, keepdims=True))
    else:
        raise ValueError(
            f"predict_proba: the model's outputs are no probabilities: its last layer's "
            f"activation is {activation!r} and its loss {loss.name!r} does not read them as "
            "logits. End the model in softmax (or sigmoid), or compile it with from_logits=True; "
            "decision_function gives the outputs as they are"
        )
    if p.shape[1] == 1:
        return np.hstack([1 - p, p])
    total = p.sum(axis=1, keepdims=True)
    return np.divide(p, total, out=np.full_like(p, 1 / p.shape[1]), where=total > 0)


class SKLearnTransformer(TransformerMixin, _SKLearnWrapper):
    __doc__ = """A fastmlp model as a scikit-learn transformer (Keras's `SKLearnTransformer`).

    Trained on (X, y) as the regressor; `transform(X)` gives the model's outputs, (samples,
    outputs), as features for the next step of a pipeline. (A transformer in scikit-learn's sense,
    not the attention model.)
""" + _MODEL_DOC.format(targets=" ((samples, outputs): a 1-D y as one column)", attributes="")

    def transform(self, X: Any) -> np.ndarray:
        """The model's outputs for X, shape (samples, outputs), in the model's dtype.

        Args:
            X: Samples, shape (samples, features).
        """
        return self._outputs(X)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True  # fit trains the model on (X, y)
        tags.transformer_tags.preserves_dtype = []  # outputs are in the model's dtype
        return tags

    def _more_tags(self) -> dict[str, Any]:  # pragma: no cover - scikit-learn < 1.6
        return {"preserves_dtype": [], "requires_y": True}
