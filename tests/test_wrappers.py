"""The scikit-learn wrappers (fastmlp.wrappers, as Keras 3's keras.wrappers): fit / predict / score,
the classifier's label encoding, and the estimator in scikit-learn's own tools (clone, Pipeline,
GridSearchCV, cross_val_score, its estimator checks). References: scikit-learn's scores on
held-out data, NumPy's softmax and sigmoid, and Keras 3's wrapper on the same labels.
"""

from __future__ import annotations

import json
import subprocess
import sys

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import layers, wrappers

sklearn = pytest.importorskip("sklearn")

from keras_run import run_keras
from sklearn.base import clone
from sklearn.datasets import make_classification, make_regression
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

SKLearnClassifier = wrappers.SKLearnClassifier
SKLearnRegressor = wrappers.SKLearnRegressor
SKLearnTransformer = wrappers.SKLearnTransformer
QUIET = {"epochs": 60, "verbose": 0}


def build(X, y, hidden=16, loss="categorical_crossentropy", activation="softmax", seed=0):
    """Keras's example model function: one hidden layer, an output per column of y."""
    model = fm.Sequential(
        [
            layers.Input(shape=(X.shape[1],)),
            layers.Dense(hidden, activation="relu"),
            layers.Dense(y.shape[1], activation=activation),
        ],
        seed=seed,
    )
    model.compile(optimizer="adam", loss=loss)
    return model


def build_binary(X, y, **kwargs):
    """For two classes, one sigmoid output (binary cross-entropy); else `build`'s model."""
    if y.shape[1] != 2:
        return build(X, y, **kwargs)
    return build(X, y[:, 1:], loss="binary_crossentropy", activation="sigmoid")


def build_regressor(X, y, hidden=16):
    return build(X, y, hidden=hidden, loss="mse", activation="linear")


def classification(classes: int, n: int = 300):
    X, y = make_classification(
        n_samples=n, n_features=8, n_informative=5, n_classes=classes, random_state=0
    )
    labels = np.array(["cat", "dog", "emu"])[y]
    return train_test_split(X, labels, random_state=0)


def regression():
    X, y = make_regression(n_samples=300, n_features=8, noise=5.0, random_state=0)
    return train_test_split(X, y / y.std(), random_state=0)


# -- fit, predict, score -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("classes", "model", "bar"),
    [(2, build, 0.8), (2, build_binary, 0.8), (3, build, 0.72)],
)
def test_classifier_learns_string_labels_and_gives_them_back(classes, model, bar) -> None:
    X_train, X_test, y_train, y_test = classification(classes)
    clf = SKLearnClassifier(model, fit_kwargs=QUIET).fit(X_train, y_train)
    np.testing.assert_array_equal(clf.classes_, np.unique(y_train))
    assert clf.n_features_in_ == 8
    predicted = clf.predict(X_test)
    assert predicted.dtype == y_test.dtype and set(predicted) <= set(clf.classes_)
    # measured: 0.84, 0.85, 0.77 (scikit-learn's LogisticRegression: 0.88, 0.88, 0.83)
    assert clf.score(X_test, y_test) >= bar
    proba = clf.predict_proba(X_test)
    assert proba.shape == (len(X_test), classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], predicted)
    scores = clf.decision_function(X_test)
    if classes == 2:  # scikit-learn's binary form: one score, positive for classes_[1]
        assert scores.shape == (len(X_test),)
        np.testing.assert_array_equal(clf.classes_[(scores > 0).astype(int)], predicted)
    else:  # the raw outputs, as Keras's
        np.testing.assert_array_equal(scores, clf.model_.predict(X_test, verbose=0))
    assert len(clf.history_.history["loss"]) == QUIET["epochs"]


def test_classifier_with_a_sparse_loss_trains_on_the_class_indices() -> None:
    X_train, X_test, y_train, y_test = classification(3)
    clf = SKLearnClassifier(
        build, model_kwargs={"loss": "sparse_categorical_crossentropy"}, fit_kwargs=QUIET
    )
    assert clf.fit(X_train, y_train).score(X_test, y_test) >= 0.72  # measured: 0.77


def test_predict_proba_of_logits_is_their_softmax_or_sigmoid() -> None:
    X_train, X_test, y_train, _ = classification(3)
    loss = fm.losses.CategoricalCrossentropy(from_logits=True)
    clf = SKLearnClassifier(
        build, model_kwargs={"loss": loss, "activation": "linear"}, fit_kwargs=QUIET
    ).fit(X_train, y_train)
    z = clf.decision_function(X_test).astype(np.float64)
    softmax = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(clf.predict_proba(X_test), softmax, rtol=1e-10)

    X_train, X_test, y_train, _ = classification(2)
    loss = fm.losses.BinaryCrossentropy(from_logits=True)
    binary = SKLearnClassifier(
        lambda X, y: build(X, y[:, 1:], loss=loss, activation="linear"), fit_kwargs=QUIET
    ).fit(X_train, y_train)
    z = binary.decision_function(X_test).astype(np.float64)  # threshold 0: the logit itself
    np.testing.assert_allclose(binary.predict_proba(X_test)[:, 1], 1 / (1 + np.exp(-z)))
    np.testing.assert_array_equal(binary.classes_[(z > 0).astype(int)], binary.predict(X_test))


def test_predict_proba_refuses_outputs_that_are_no_probabilities() -> None:
    X_train, X_test, y_train, _ = classification(3)
    clf = SKLearnClassifier(
        build, model_kwargs={"loss": "mse", "activation": "linear"}, fit_kwargs=QUIET
    ).fit(X_train, y_train)
    assert clf.predict(X_test).shape == (len(X_test),)
    with pytest.raises(ValueError, match=r"no probabilities.*decision_function"):
        clf.predict_proba(X_test)


def test_regressor_reaches_a_good_r2_and_keeps_ys_shape() -> None:
    X_train, X_test, y_train, y_test = regression()
    slow = {"epochs": 100, "verbose": 0}
    reg = SKLearnRegressor(build_regressor, fit_kwargs=slow).fit(X_train, y_train)
    assert reg.score(X_test, y_test) >= 0.9  # measured: 0.956
    assert reg.predict(X_test).shape == (len(X_test),)
    assert reg.predict(X_test).dtype == np.float64
    two = np.column_stack([y_train, -y_train])
    reg2 = SKLearnRegressor(build_regressor, fit_kwargs=QUIET).fit(X_train, two)
    assert reg2.predict(X_test).shape == (len(X_test), 2)
    assert reg2.score(X_test, np.column_stack([y_test, -y_test])) >= 0.9


def test_transformer_gives_the_models_outputs_as_features() -> None:
    X_train, X_test, y_train, _ = classification(3)
    onehot = (y_train[:, None] == np.unique(y_train)).astype(float)
    trs = SKLearnTransformer(build, fit_kwargs=QUIET)
    features = trs.fit_transform(X_train, onehot)
    assert features.shape == (len(X_train), 3)
    np.testing.assert_array_equal(trs.transform(X_test), trs.model_.predict(X_test, verbose=0))
    stacked = make_pipeline(SKLearnTransformer(build, fit_kwargs=QUIET), LogisticRegression())
    with pytest.raises(ValueError, match="requires y"):
        stacked.fit(X_train)  # the transformer trains on (X, y): y is required


# -- the estimator in scikit-learn's tools -----------------------------------------------------
def test_clone_and_get_set_params_keep_every_argument() -> None:
    model = build(np.zeros((1, 8)), np.zeros((1, 3)))
    clf = SKLearnClassifier(model, warm_start=True, fit_kwargs={"epochs": 3, "verbose": 0})
    params = clf.get_params()
    assert set(params) == {"model", "warm_start", "model_kwargs", "fit_kwargs"}
    twin = clone(clf)
    assert twin.get_params()["fit_kwargs"] == {"epochs": 3, "verbose": 0}  # (Keras's drops them)
    assert twin.warm_start is True
    assert isinstance(twin.model, fm.Sequential) and twin.model is not model  # a deep copy
    np.testing.assert_array_equal(twin.model.get_weights()[0], model.get_weights()[0])
    assert twin.set_params(fit_kwargs={"epochs": 1}) is twin
    assert twin.fit_kwargs == {"epochs": 1} and clf.fit_kwargs["epochs"] == 3


def test_fit_arguments_take_precedence_and_leave_fit_kwargs_as_they_were() -> None:
    X_train, _, y_train, _ = classification(2)
    fit_kwargs = {"epochs": 5, "verbose": 0}
    clf = SKLearnClassifier(build, fit_kwargs=fit_kwargs).fit(X_train, y_train, epochs=2)
    assert len(clf.history_.history["loss"]) == 2
    assert fit_kwargs == {"epochs": 5, "verbose": 0}


def test_pipeline_with_a_scaler() -> None:
    X_train, X_test, y_train, y_test = classification(2)
    pipe = Pipeline(
        [("scale", StandardScaler()), ("mlp", SKLearnClassifier(build, fit_kwargs=QUIET))]
    )
    assert pipe.fit(X_train * 100 + 5, y_train).score(X_test * 100 + 5, y_test) >= 0.8  # 0.88
    assert pipe.predict_proba(X_test[:4]).shape == (4, 2)


def test_grid_search_over_model_and_fit_arguments() -> None:
    X_train, X_test, y_train, y_test = classification(2, n=200)
    search = GridSearchCV(
        SKLearnClassifier(build, fit_kwargs={"verbose": 0}),
        {
            "model_kwargs": [{"hidden": 4}, {"hidden": 16}],
            "fit_kwargs": [{"epochs": 2, "verbose": 0}, {"epochs": 30, "verbose": 0}],
        },
        cv=2,
    )
    search.fit(X_train, y_train)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["fit_kwargs"]["epochs"] == 30  # 2 epochs learn little
    assert search.score(X_test, y_test) >= 0.8


def test_cross_val_score_clones_the_model_and_leaves_it_alone() -> None:
    X_train, _, y_train, _ = classification(3)
    model = build(X_train, np.zeros((1, 3)))
    before = model.get_weights()
    scores = cross_val_score(SKLearnClassifier(model, fit_kwargs=QUIET), X_train, y_train, cv=3)
    assert scores.shape == (3,) and scores.min() >= 0.6  # measured: 0.72
    for now, then in zip(model.get_weights(), before):
        np.testing.assert_array_equal(now, then)


def test_warm_start_trains_the_same_model_further() -> None:
    X_train, X_test, y_train, _ = classification(2)
    model = build(X_train, np.zeros((1, 2)))
    cold = SKLearnClassifier(model, fit_kwargs={"epochs": 3, "verbose": 0})
    first = cold.fit(X_train, y_train).model_
    assert first is not model and cold.fit(X_train, y_train).model_ is not first
    # each cold fit starts from the clone's weights: the same result twice
    np.testing.assert_array_equal(cold.model_.get_weights()[0], first.get_weights()[0])
    assert model.optimizer.iterations == 0

    warm = SKLearnClassifier(model, warm_start=True, fit_kwargs={"epochs": 3, "verbose": 0})
    assert warm.fit(X_train, y_train).model_ is model  # the model itself, not a clone
    after_one = model.get_weights()[0]
    np.testing.assert_array_equal(after_one, first.get_weights()[0])
    steps = model.optimizer.iterations
    warm.fit(X_train, y_train)
    assert warm.model_ is model and model.optimizer.iterations == 2 * steps
    assert not np.array_equal(model.get_weights()[0], after_one)
    assert warm.predict(X_test).shape == (len(X_test),)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["predict", "predict_proba", "decision_function", "score"])
def test_using_an_unfitted_classifier_raises_not_fitted_error(method) -> None:
    X_train, _, y_train, _ = classification(2)
    with pytest.raises(NotFittedError):
        getattr(SKLearnClassifier(build), method)(
            *([X_train, y_train] if method == "score" else [X_train])
        )


def test_unfitted_regressor_and_transformer_raise_not_fitted_error() -> None:
    with pytest.raises(NotFittedError):
        SKLearnRegressor(build_regressor).predict(np.zeros((2, 8)))
    with pytest.raises(NotFittedError):
        SKLearnTransformer(build_regressor).transform(np.zeros((2, 8)))


def test_a_model_that_is_not_compiled_is_refused() -> None:
    X_train, _, y_train, _ = classification(2)
    model = fm.Sequential([layers.Input(shape=(8,)), layers.Dense(2, activation="softmax")])
    with pytest.raises(ValueError, match=r"model is not compiled.*compile"):
        SKLearnClassifier(model).fit(X_train, y_train)
    with pytest.raises(ValueError, match="function's result is not compiled"):
        SKLearnClassifier(lambda X, y: model).fit(X_train, y_train)


def test_what_is_no_fastmlp_model_is_refused() -> None:
    X_train, _, y_train, _ = classification(2)
    with pytest.raises(TypeError, match="model must be a compiled fastmlp Sequential"):
        SKLearnClassifier("mlp").fit(X_train, y_train)
    with pytest.raises(TypeError, match=r"must return a compiled fastmlp Sequential.*LogisticReg"):
        SKLearnClassifier(lambda X, y: LogisticRegression()).fit(X_train, y_train)
    model = build(X_train, np.zeros((1, 2)))
    with pytest.raises(ValueError, match="model_kwargs are the arguments of a model function"):
        SKLearnClassifier(model, model_kwargs={"hidden": 3}).fit(X_train, y_train)


def test_wrong_feature_count_at_predict_is_refused() -> None:
    X_train, X_test, y_train, _ = classification(2)
    clf = SKLearnClassifier(build, fit_kwargs={"epochs": 1, "verbose": 0}).fit(X_train, y_train)
    with pytest.raises(ValueError, match=r"X has 7 features.*expecting 8 features"):
        clf.predict(X_test[:, :7])


def test_classifier_targets_are_checked() -> None:
    X_train, _, y_train, _ = classification(3)
    clf = SKLearnClassifier(build, fit_kwargs={"epochs": 1, "verbose": 0})
    with pytest.raises(ValueError, match="one class"):
        clf.fit(X_train, np.full(len(X_train), "cat"))
    with pytest.raises(ValueError, match="Unknown label type: continuous"):
        clf.fit(X_train, np.linspace(0, 1, len(X_train)))
    two_outputs = SKLearnClassifier(lambda X, y: build(X, y[:, :2]))
    with pytest.raises(ValueError, match=r"2 outputs, y holds 3 classes.*Dense\(3"):
        two_outputs.fit(X_train, y_train)
    assert not hasattr(two_outputs, "model_")
    with pytest.raises(NotFittedError):  # a failed fit leaves no fitted estimator behind
        two_outputs.predict(X_train)


def test_making_a_wrapper_without_scikit_learn_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setattr(wrappers, "sklearn", None)
    for cls in (SKLearnClassifier, SKLearnRegressor, SKLearnTransformer):
        with pytest.raises(ImportError, match=r'pip install scikit-learn.*"fastmlp\[sklearn\]"'):
            cls(build)


def test_import_fastmlp_does_not_import_scikit_learn() -> None:
    code = "import sys, fastmlp; assert 'sklearn' not in sys.modules; fastmlp.wrappers.SKLearnClassifier; assert 'sklearn' in sys.modules; print(fastmlp.keras.wrappers.SKLearnRegressor.__name__)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "SKLearnRegressor"


# -- scikit-learn's estimator checks -----------------------------------------------------------
CHECKED = [
    SKLearnClassifier(build, fit_kwargs={"epochs": 50, "verbose": 0}),  # two softmax outputs
    SKLearnClassifier(build_binary, fit_kwargs={"epochs": 20, "verbose": 0}),
    SKLearnRegressor(build_regressor, fit_kwargs={"epochs": 100, "verbose": 0}),
    SKLearnTransformer(build_regressor, fit_kwargs={"epochs": 5, "verbose": 0}),
]
# (Before 1.6 the checks make each estimator without arguments, which a wrapper needs: its model.)
RECENT = tuple(int(part) for part in sklearn.__version__.split(".")[:2]) >= (1, 6)


@(parametrize_with_checks(CHECKED) if RECENT else pytest.mark.skip(reason="scikit-learn < 1.6"))
def test_scikit_learn_estimator_checks(estimator, check) -> None:
    check(estimator)


# -- Keras 3's wrapper as the reference --------------------------------------------------------
KERAS_SCRIPT = """
import json, sys
import numpy as np
from keras.src.wrappers import SKLearnClassifier
case = json.loads(sys.stdin.read())
out = []
for labels, outputs in zip(case["labels"], case["outputs"]):
    est = SKLearnClassifier(model=None)
    onehot = est._process_target(np.array(labels), reset=True)
    decoded = est._reverse_process_target(np.array(outputs))
    out.append({"onehot": onehot.tolist(), "classes": est.classes_.tolist(),
                "decoded": np.asarray(decoded).ravel().tolist()})
print(json.dumps(out))
"""


def test_label_encoding_and_decoding_match_keras_3s_wrapper() -> None:
    cases, seen, outputs = [], [], []
    for classes in (2, 3):
        X_train, X_test, y_train, _ = classification(classes, n=80)

        def spy(X, y):
            seen.append(y)
            return build(X, y)

        clf = SKLearnClassifier(spy, fit_kwargs={"epochs": 3, "verbose": 0}).fit(X_train, y_train)
        raw = clf.model_.predict(X_test, verbose=0)
        cases.append((y_train, clf.predict(X_test), clf.classes_))
        outputs.append(raw.tolist())
    stdin = json.dumps({"labels": [c[0].tolist() for c in cases], "outputs": outputs})
    keras = json.loads(run_keras(KERAS_SCRIPT, stdin=stdin))
    for (_, predicted, classes), given, theirs in zip(cases, seen, keras):
        np.testing.assert_array_equal(given, np.array(theirs["onehot"]))
        assert classes.tolist() == theirs["classes"]
        assert predicted.tolist() == theirs["decoded"]
