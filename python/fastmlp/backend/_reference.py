"""The GPU engine's operations written in NumPy: the reference for every CUDA kernel.

`ArrayNetwork` (engine.py) calls these through an `ops` object; on a GPU the same calls go to
`_cuda.CudaOps`, one kernel each (kernels.cu). Each function here says in NumPy what its kernel
computes, with the same rounding points, so the GPU tests can compare the two and a machine
without a GPU can run and test the engine's logic (`device="numpy"`). The functions of one value
they apply (the random generator, the activations) are in _reference_elementwise.py.

Conventions shared with the kernels: matrices are row-major (rows = samples); `sums` is a float64
vector [loss, correct, compared, squared_error, absolute_error] that every op adds into; `state`
is an int64 vector [position in the epoch, random-stream counter, optimizer iterations].
"""

from __future__ import annotations

import contextlib

import numpy as np

from fastmlp.backend._reference_elementwise import activate, activation_grad, random_bits, uniform

LOSS, CORRECT, COMPARED, SQUARED, ABSOLUTE = range(5)
POS, RNG, ITER = range(3)
# enum class OptimizerKind in optimizer.hpp
SGD, ADAM, RMSPROP, ADAGRAD, ADADELTA, NADAM, ADAMAX, LION, FTRL = range(9)


def keras_cast(value: float) -> float:
    """A hyperparameter as Keras casts it (through a float32 tensor; optimizer.hpp keras_cast)."""
    return float(np.float32(value))


PROB_EPSILON = 1e-7  # Keras clips probabilities to [eps, 1 - eps] before a log
SHUFFLE_STREAM = (
    0xFFFFFFFF  # the random stream of the epoch permutation; dropout uses the layer index
)


class ReferenceOps:
    """The engine's operations on NumPy arrays (in place where the kernel works in place)."""

    name = "numpy"

    # -- products ---------------------------------------------------------------------------
    def gemm(
        self, a: np.ndarray, b: np.ndarray, out: np.ndarray, ta: bool = False, tb: bool = False
    ):
        """out = op(a) @ op(b)."""
        np.matmul(a.T if ta else a, b.T if tb else b, out=out)

    def column_sums(self, g: np.ndarray, out: np.ndarray) -> None:
        """out = sum over rows of g (a bias gradient)."""
        np.sum(g, axis=0, out=out)

    # -- layers -----------------------------------------------------------------------------
    def bias_activation(
        self, a: np.ndarray, bias: np.ndarray | None, code: int, apply: bool, param: float
    ) -> None:
        """a = f(a + b) in place (`param`: f's argument); `apply` False leaves f for the fused
        loss."""
        if bias is not None:
            a += bias
        if apply and code != 0:
            a[...] = activate(code, a, param)

    def activation_backward(self, a: np.ndarray, g: np.ndarray, code: int, param: float) -> None:
        """g = g * f'(z) in place."""
        if code != 0:
            g[...] = activation_grad(code, a, g, param)

    def dropout(self, x, out, mask, rate: float, seed: int, state, layer: int) -> None:
        """Inverted dropout: mask = [u >= rate] / (1 - rate), out = x * mask."""
        bits = random_bits(seed, int(state[RNG]), layer, mask.size)
        keep = uniform(bits).reshape(mask.shape) >= rate
        mask[...] = np.where(keep, mask.dtype.type(1 / (1 - rate)), mask.dtype.type(0))
        np.multiply(x, mask, out=out)

    def multiply(self, a, b, out) -> None:
        np.multiply(a, b, out=out)

    # -- memory -----------------------------------------------------------------------------
    def zeros(self, shape, dtype) -> np.ndarray:
        return np.zeros(shape, dtype=dtype)

    def arange(self, n: int) -> np.ndarray:
        return np.arange(n, dtype=np.int64)

    def copy(self, src, dst) -> None:
        np.copyto(dst, src)

    def active(self) -> contextlib.AbstractContextManager:
        """The context work is queued in (a GPU's stream); nothing to enter on the CPU."""
        return contextlib.nullcontext()

    def capture(self, step):
        """A replayable recording of `step`'s work: none on the CPU, where steps run as called."""

    def replay(self, graph) -> None:
        raise NotImplementedError("nothing is captured on the CPU")

    def to_device(self, array, dtype=None):
        return np.ascontiguousarray(array, dtype=dtype)

    def reserve(self, rows: int) -> None:
        """(The CUDA ops keep a vector of ones for bias gradients; NumPy sums directly.)"""

    def all_finite(self, array) -> bool:
        return bool(np.isfinite(array).all())

    def to_host(self, array) -> np.ndarray:
        return np.array(array, copy=True)

    def synchronize(self) -> None:
        """Wait for queued work (nothing is queued on the CPU)."""

    # -- the epoch's batches ----------------------------------------------------------------
    def permutation(self, n: int, seed: int, state) -> np.ndarray:
        """The epoch's sample order: a stable argsort of random keys (the GPU does the same)."""
        keys = random_bits(seed, int(state[RNG]), SHUFFLE_STREAM, n)
        return np.argsort(keys, kind="stable").astype(np.int64)

    def gather(self, x, y, order, state, n: int, xb, yb) -> None:
        """xb[i] = x[order[pos + i]], yb[i] = y[order[pos + i]] for i < n."""
        rows = order[int(state[POS]) : int(state[POS]) + n]
        np.take(x, rows, axis=0, out=xb[:n])
        np.take(y, rows, axis=0, out=yb[:n])

    def advance(self, state, rows: int, step: bool) -> None:
        """After a step: pos += rows; the random counter moves on; iterations += step."""
        state[POS] += rows
        state[RNG] += 1
        state[ITER] += int(step)

    # -- loss and metrics -------------------------------------------------------------------
    def loss(self, kind: int, mode: int, a, y, g, sums, params) -> None:
        """sums[LOSS] += sum of per-sample losses; g = d(mean loss)/d(a or logits) (loss.hpp).

        mode 0: a holds probabilities/values; 1: a holds logits (from_logits); 2: fused, a holds
        the last layer's logits and is overwritten with its softmax / sigmoid. params: the loss's
        arguments (gamma, alpha, class_balancing of the focal losses).
        """
        from fastmlp.backend import _reference_focal as focal  # (it imports this module)

        if kind == focal.BINARY_FOCAL:
            return focal.binary_focal_rows(
                mode, params.gamma, params.alpha, params.class_balancing, a, y, g, sums
            )
        if kind == focal.CATEGORICAL_FOCAL:
            return focal.categorical_focal_rows(mode, params.gamma, params.alpha, a, y, g, sums)
        n, k = a.shape
        d = a.dtype.type
        ad = a.astype(np.float64)
        eps = d(PROB_EPSILON)
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            if kind in (0, 1):
                if kind == 0:
                    labels = y[:, 0].astype(np.int64)
                    target = np.zeros_like(a)
                    target[np.arange(n), labels] = 1
                else:
                    target = y
                if mode != 0:
                    m = a.max(axis=1, keepdims=True)
                    e = np.exp(a - m)
                    s = e.sum(axis=1, keepdims=True)
                    p = e / s
                    lse = m + np.log(s)
                    sums[LOSS] += float(np.sum(target.astype(np.float64) * (lse - a)))
                    g[...] = (p * target.sum(axis=1, keepdims=True) - target) / d(n)
                    if mode == 2:
                        a[...] = p
                else:  # Keras: q = p / sum(p), clipped; no gradient through the clip
                    s = np.maximum(a.sum(axis=1, keepdims=True), np.finfo(a.dtype).tiny)
                    q = a / s
                    qc = np.clip(q, eps, 1 - eps)
                    used = target != 0
                    sums[LOSS] -= float(
                        np.sum(np.where(used, target * np.log(qc), 0), dtype=np.float64)
                    )
                    c = np.where(used & (q == qc), target, d(0))
                    g[...] = (
                        np.where(c != 0, -c / a, d(0)) + c.sum(axis=1, keepdims=True) / s
                    ) / d(n)
            elif kind == 2:  # binary cross-entropy, averaged over the k outputs
                if mode != 0:
                    total = np.maximum(ad, 0) - ad * y + np.log1p(np.exp(-np.abs(ad)))
                    p = 1 / (1 + np.exp(-a))
                    g[...] = (p - y) / d(n * k)
                    if mode == 2:
                        a[...] = p
                else:
                    pc = np.clip(a, eps, 1 - eps)
                    total = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
                    g[...] = np.where(a == pc, (pc - y) / (pc * (1 - pc)) / d(n * k), d(0))
                sums[LOSS] += float(np.sum(total, dtype=np.float64)) / k
            elif kind == 3:
                diff = a - y
                sums[LOSS] += float(np.sum(np.square(diff, dtype=np.float64))) / k
                g[...] = diff * (d(2) / d(n) / d(k))
            elif kind == 4:
                diff = a - y
                sums[LOSS] += float(np.sum(np.abs(diff), dtype=np.float64)) / k
                g[...] = np.sign(diff) / d(n) / d(k)
            elif kind == 5:
                margin = 1 - y * a
                sums[LOSS] += float(np.sum(np.maximum(margin, 0), dtype=np.float64)) / k
                g[...] = np.where(margin >= 0, -y / d(n) / d(k), d(0))
            elif kind == 6:
                ya = y * a
                total = np.maximum(-ya, 0) + np.log1p(np.exp(-np.abs(ya)))
                sums[LOSS] += float(np.sum(total, dtype=np.float64)) / k
                g[...] = -y / (1 + np.exp(ya)) / d(n) / d(k)
            else:
                raise ValueError(f"loss: unknown kind {kind}")

    def metrics(
        self, mode: int, out_t: float, target_t: float, squared: bool, absolute: bool,
        scale: float, offset: float, a, y, sums,
    ):  # fmt: skip
        """Accuracy counts and error sums of one batch (network.cpp count_metrics); the errors
        against scale * y + offset (the targets before the loss prepared them)."""
        n, k = a.shape
        if mode == 1:
            sums[CORRECT] += float(np.sum(np.argmax(a, axis=1) == y[:, 0]))
            sums[COMPARED] += n
        elif mode == 2:
            sums[CORRECT] += float(np.sum(np.argmax(a, axis=1) == np.argmax(y, axis=1)))
            sums[COMPARED] += n
        elif mode == 3:
            t = a.dtype.type
            sums[CORRECT] += float(np.sum((a > t(out_t)) == (y > t(target_t))))
            sums[COMPARED] += n * k
        if (squared or absolute) and y.shape[1] == k:
            t = a.dtype.type
            diff = (a - (y * t(scale) + t(offset))).astype(np.float64)
            if squared:
                sums[SQUARED] += float(np.sum(diff * diff)) / k
            if absolute:
                sums[ABSOLUTE] += float(np.sum(np.abs(diff))) / k

    # -- penalties, clipping, updates -------------------------------------------------------
    def penalty(self, w, g, l1: float, l2: float, samples: int, sums) -> None:
        """sums[LOSS] += samples * (l1 sum|w| + l2 sum w^2); g += l1 sign(w) + 2 l2 w (if g)."""
        wd = w.astype(np.float64)
        sums[LOSS] += samples * (l1 * float(np.sum(np.abs(wd))) + l2 * float(np.sum(wd * wd)))
        if g is not None:
            t = w.dtype.type
            if l1:
                g += t(l1) * np.sign(w)
            if l2:
                g += t(2 * l2) * w

    def clip(
        self, grads, variables, clipnorm: float, clipvalue: float, global_clipnorm: float
    ) -> None:
        """Keras's clipvalue, clipnorm (per variable) and global_clipnorm, in that order."""
        t = grads.dtype.type
        if clipvalue > 0:
            np.clip(grads, t(-clipvalue), t(clipvalue), out=grads)
        if clipnorm > 0:
            for start, size in variables:
                part = grads[start : start + size]
                norm = float(np.sqrt(np.sum(part.astype(np.float64) ** 2)))
                if norm > clipnorm:
                    part *= t(clipnorm / norm)
        if global_clipnorm > 0:
            norm = float(np.sqrt(np.sum(grads.astype(np.float64) ** 2)))
            if norm > global_clipnorm:
                grads *= t(global_clipnorm / norm)

    def optimizer_step(self, config, w, g, slots, state, hyper) -> None:
        """One update of the flat parameters w with gradient g (optimizer.hpp, Keras 3's rules).

        hyper[0] is the learning rate (kept in an array so that a captured step sees changes),
        hyper[1] Nadam's u_product (updated here first: on the GPU, by a one-thread kernel).
        """
        t = w.dtype.type
        it = int(state[ITER]) + 1
        lr = float(hyper[0])
        lr_t = t(lr)
        if config.weight_decay > 0:
            w *= t(1) - lr_t * t(config.weight_decay)
        kind = config.kind
        if kind == 0:  # SGD
            if config.momentum == 0:
                w -= lr_t * g
                return
            (m,) = slots
            m[...] = t(config.momentum) * m - lr_t * g
            w += t(config.momentum) * m - lr_t * g if config.nesterov else m
        elif kind == 1:  # Adam
            alpha = t(lr * np.sqrt(1 - config.beta_2**it) / (1 - config.beta_1**it))
            m, v = slots[0], slots[1]
            m += (g - m) * t(1 - config.beta_1)
            v += (g * g - v) * t(1 - config.beta_2)
            if config.amsgrad:
                np.maximum(slots[2], v, out=slots[2])
                v = slots[2]
            w -= alpha * m / (np.sqrt(v) + t(config.epsilon))
        elif kind == 2:  # RMSprop
            rho, v = t(config.rho), slots[0]
            v[...] = rho * v + (1 - rho) * g * g
            denom = v
            rest = list(slots[1:])
            mom = rest.pop(0) if config.momentum > 0 else None
            if config.centered:
                avg = rest.pop(0)
                avg[...] = rho * avg + (1 - rho) * g
                denom = v - avg * avg
            inc = lr_t * g / np.sqrt(denom + t(config.epsilon))
            if mom is not None:
                mom[...] = t(config.momentum) * mom + inc
                w -= mom
            else:
                w -= inc
        elif kind == 3:  # Adagrad
            acc = slots[0]
            acc += g * g
            w -= lr_t * g / np.sqrt(acc + t(config.epsilon))
        elif kind == 4:  # Adadelta
            rho, eps = t(config.rho), t(config.epsilon)
            eg, ed = slots
            eg[...] = rho * eg + (1 - rho) * g * g
            delta = -np.sqrt(ed + eps) / np.sqrt(eg + eps) * g
            ed[...] = rho * ed + (1 - rho) * delta * delta
            w += lr_t * delta
        elif kind == NADAM:  # u_t = b1 (1 - 0.5 * 0.96^t); hyper[1] = P_t = u_1 ... u_t
            hyper[1] = float(hyper[1]) * config.beta_1 * (1 - 0.5 * 0.96**it)
            b1, b2, decay = (keras_cast(v) for v in (config.beta_1, config.beta_2, 0.96))
            u_t = b1 * (1 - 0.5 * decay**it)
            u_next = b1 * (1 - 0.5 * decay ** (it + 1))
            product = float(hyper[1])
            a, b = t(u_next / (1 - product * u_next)), t((1 - u_t) / (1 - product))
            c = t(1 / (1 - b2**it))
            m, v = slots
            m += (g - m) * t(1 - b1)
            v += (g * g - v) * t(1 - b2)
            w -= lr_t * (a * m + b * g) / (np.sqrt(c * v) + t(config.epsilon))
        elif kind == ADAMAX:
            alpha = t(lr / (1 - keras_cast(config.beta_1) ** it))
            m, u = slots
            m += (g - m) * t(1 - config.beta_1)
            np.maximum(t(config.beta_2) * u, np.abs(g), out=u)
            w -= alpha * m / (u + t(config.epsilon))
        elif kind == LION:
            (m,) = slots
            b1, b2 = keras_cast(config.beta_1), keras_cast(config.beta_2)
            w -= lr_t * np.sign(m * t(b1) + g * t(1 - b1))
            m[...] = m * t(b2) + g * t(1 - b2)
        elif kind == FTRL:  # p = -learning_rate_power; the rate is > 0 (refused before the step)
            n, z = slots
            p = -config.learning_rate_power
            power = np.sqrt if p == 0.5 else (lambda x: np.power(x, t(p)))
            inverse = t(1 / lr)
            two_l2 = t(2 * (config.l2_regularization_strength + config.beta / (2 * lr)))
            l1 = t(config.l1_regularization_strength)
            grown = n + g * g
            root = power(grown)
            shrink = t(2 * config.l2_shrinkage_regularization_strength)
            z += (g + shrink * w) - (root - power(n)) * inverse * w
            w[...] = (np.clip(z, -l1, l1) - z) / (root * inverse + two_l2)
            n[...] = grown
        else:
            raise ValueError(f"optimizer: unknown kind {kind}")
