"""scikit-learn: MLPClassifier(solver="adam"), one epoch per `fit` through warm_start and max_iter=1.

scikit-learn's L2 term is alpha/2 * sum(W^2) / batch_size; alpha = 2 * l2 * batch_size gives
the same gradient as Keras's l2 * sum(W^2). The playground net is an MLPRegressor: scikit-learn
has no tanh output layer, so its output is linear (same cost, a slightly different model).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import sklearn
from impl_numpy import blas_threads
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier, MLPRegressor


class Framework:
    """The benchmark's interface (see worker.py) over scikit-learn's MLPs."""

    label = "scikit-learn MLPClassifier"

    def __init__(self) -> None:
        # max_iter=1 per fit warns each time that the optimizer has not converged: by design here.
        warnings.filterwarnings("ignore", category=ConvergenceWarning)

    def versions(self) -> dict[str, str]:
        return {"scikit-learn": sklearn.__version__, "numpy": np.__version__}

    def threads(self) -> Any:
        return blas_threads()

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(x, np.float32), y.ravel()

    def lecture_model(self, l2: float, seed: int) -> dict[str, Any]:
        # Built at the first epoch, when the batch size (and so alpha) is known.
        return {"l2": l2, "seed": seed, "clf": None}

    def train_epoch(self, model: dict[str, Any], data: Any, batch_size: int) -> None:
        if model["clf"] is None:
            model["clf"] = MLPClassifier(
                hidden_layer_sizes=(128, 64),
                activation="relu",
                solver="adam",
                alpha=2 * model["l2"] * batch_size,
                batch_size=batch_size,
                learning_rate_init=1e-3,
                max_iter=1,
                warm_start=True,
                shuffle=True,
                random_state=model["seed"],
            )
        model["clf"].set_params(batch_size=batch_size)
        model["clf"].fit(*data)

    def playground_model(self, seed: int) -> MLPRegressor:
        return MLPRegressor(
            hidden_layer_sizes=(8, 8),
            activation="tanh",
            solver="sgd",
            alpha=0.0,
            batch_size=10,
            learning_rate="constant",
            learning_rate_init=0.03,
            momentum=0.0,
            nesterovs_momentum=False,
            warm_start=True,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=2**31 - 1,  # never stop early: every requested epoch is trained
            random_state=seed,
        )

    def train_playground(self, model: MLPRegressor, data: Any, epochs: int) -> None:
        model.set_params(max_iter=epochs)
        model.fit(*data)

    def weights(self, model: dict[str, Any]) -> list[np.ndarray]:
        return [*model["clf"].coefs_, *model["clf"].intercepts_]

    def predict(self, model: dict[str, Any], x: Any) -> np.ndarray:
        return model["clf"].predict_proba(x[0])
