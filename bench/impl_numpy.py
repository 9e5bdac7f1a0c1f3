"""NumPy by hand: the MLP a student writes after the lecture, in float32, with Keras's Adam.

Row-major, batch-first like fastmlp: a layer computes z = a W + b. Every product is one BLAS
SGEMM; everything else is whole-array NumPy. Per minibatch: gather the rows, forward, backward,
one optimizer step.
"""

from __future__ import annotations

from typing import Any

import numpy as np

F32 = np.float32


class MLP:
    """Dense layers with `hidden` activations and a softmax (cross-entropy) or tanh (MSE) output."""

    def __init__(self, sizes: list[int], hidden: str, output: str, l2: float, seed: int) -> None:
        rng = np.random.default_rng(seed)
        self.W, self.b = [], []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            limit = np.sqrt(6.0 / (fan_in + fan_out))  # glorot_uniform, as Keras
            self.W.append(rng.uniform(-limit, limit, (fan_in, fan_out)).astype(F32))
            self.b.append(np.zeros(fan_out, F32))
        self.hidden, self.output, self.l2 = hidden, output, l2

    @property
    def params(self) -> list[np.ndarray]:
        return self.W + self.b

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """Activations of every layer, input first: a[k+1] = f(a[k] W[k] + b[k])."""
        acts = [x]
        last = len(self.W) - 1
        for k, (W, b) in enumerate(zip(self.W, self.b)):
            z = acts[-1] @ W + b
            if k < last:
                acts.append(np.maximum(z, 0) if self.hidden == "relu" else np.tanh(z))
            elif self.output == "softmax":
                e = np.exp(z - z.max(axis=1, keepdims=True))
                acts.append(e / e.sum(axis=1, keepdims=True))
            else:
                acts.append(np.tanh(z))
        return acts

    def gradients(self, x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
        """dLoss/dparams for mean cross-entropy (labels y) or mean squared error (targets y)."""
        acts = self.forward(x)
        n = x.shape[0]
        out = acts[-1]
        if self.output == "softmax":
            delta = out.copy()  # softmax + cross-entropy: dL/dz = (p - onehot) / n
            delta[np.arange(n), y] -= 1
            delta /= n
        else:
            delta = (2 / (n * out.shape[1])) * (out - y) * (1 - out * out)  # tanh'(z) = 1 - a^2
        gW, gb = [None] * len(self.W), [None] * len(self.b)
        for k in range(len(self.W) - 1, -1, -1):
            gW[k] = acts[k].T @ delta
            if self.l2:
                gW[k] += (2 * self.l2) * self.W[k]  # d/dW of l2 * sum(W^2)
            gb[k] = delta.sum(axis=0)
            if k:
                da = delta @ self.W[k].T
                a = acts[k]
                delta = da * (a > 0) if self.hidden == "relu" else da * (1 - a * a)
        return gW + gb


class Adam:
    """Keras's Adam: lr_t = lr sqrt(1 - b2^t) / (1 - b1^t), p -= lr_t m / (sqrt(v) + eps)."""

    def __init__(
        self,
        params: list[np.ndarray],
        lr: float = 1e-3,
        b1: float = 0.9,
        b2: float = 0.999,
        eps: float = 1e-7,
    ) -> None:
        self.lr, self.b1, self.b2, self.eps, self.t = lr, b1, b2, eps, 0
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        self.t += 1
        # A Python float: a NumPy float64 here would promote every float32 update to float64.
        lr_t = self.lr * (1 - self.b2**self.t) ** 0.5 / (1 - self.b1**self.t)
        for p, g, m, v in zip(params, grads, self.m, self.v):
            m += (1 - self.b1) * (g - m)
            v += (1 - self.b2) * (g * g - v)
            p -= lr_t * m / (np.sqrt(v) + self.eps)


class SGD:
    def __init__(self, params: list[np.ndarray], lr: float) -> None:
        self.lr = lr

    def step(self, params: list[np.ndarray], grads: list[np.ndarray]) -> None:
        for p, g in zip(params, grads):
            p -= self.lr * g


def blas_threads() -> int | None:
    """Threads of the BLAS that NumPy loaded (threadpoolctl), None if that cannot be told."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    return max(
        (lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"), default=None
    )


class Framework:
    """The benchmark's interface (see worker.py) over the hand-written MLP."""

    label = "NumPy by hand"

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def versions(self) -> dict[str, str]:
        return {"numpy": np.__version__}

    def threads(self) -> Any:
        return blas_threads()

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return np.ascontiguousarray(x, F32), y

    def lecture_model(self, l2: float, seed: int) -> tuple[MLP, Adam]:
        net = MLP([784, 128, 64, 10], "relu", "softmax", l2, seed)
        return net, Adam(net.params, lr=1e-3)

    def playground_model(self, seed: int) -> tuple[MLP, SGD]:
        net = MLP([2, 8, 8, 1], "tanh", "tanh", 0.0, seed)
        return net, SGD(net.params, lr=0.03)

    def train_epoch(
        self, model: tuple[MLP, Any], data: tuple[np.ndarray, np.ndarray], batch_size: int
    ) -> None:
        net, opt = model
        x, y = data
        order = self.rng.permutation(x.shape[0])
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            opt.step(net.params, net.gradients(x[idx], y[idx]))

    def train_playground(self, model: tuple[MLP, SGD], data: Any, epochs: int) -> None:
        for _ in range(epochs):
            self.train_epoch(model, data, 10)

    def weights(self, model: tuple[MLP, Any]) -> list[np.ndarray]:
        return model[0].params

    def predict(self, model: tuple[MLP, Any], data: Any) -> np.ndarray:
        return model[0].forward(data[0])[-1]
