"""The NumPy twins of the focal losses' kernels (`binary_focal_rows`, `categorical_focal_rows` in
kernels.cu), with their formulas and rounding points; the C++ engine's are in loss.hpp.

Both add the batch's summed loss to sums[LOSS] and write g = d(mean loss)/d(a, or its logits).
"""

from __future__ import annotations

import numpy as np

from fastmlp.backend._reference import LOSS, PROB_EPSILON

BINARY_FOCAL, CATEGORICAL_FOCAL = 16, 17  # enum class LossKind in loss.hpp


def focal_factor(u: np.ndarray, gamma) -> tuple[np.ndarray, np.ndarray]:
    """u^gamma and its derivative gamma u^(gamma - 1); 0 for gamma = 0 (u^0 is the constant 1)."""
    if gamma == 0:
        return np.ones_like(u), np.zeros_like(u)
    return u**gamma, gamma * u ** (gamma - 1)


def binary_focal_rows(mode: int, gamma: float, alpha: float, balance: bool, a, y, g, sums) -> None:
    """w u^gamma bce averaged over the k outputs, u = 1 - p_t, p_t = y p + (1 - y)(1 - p); bce from
    the logits in modes 1 and 2 (2: a is overwritten with the sigmoid), from p clipped to
    [eps, 1 - eps] in mode 0; w = y alpha + (1 - y)(1 - alpha) where balance is set, else 1."""
    n, k = a.shape
    d = a.dtype.type
    one, eps = d(1), d(PROB_EPSILON)
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        if mode != 0:
            p = one / (one + np.exp(-a))
            bce = np.maximum(a, d(0)) - a * y + np.log1p(np.exp(-np.abs(a)))
            dbce, dp = p - y, p * (one - p)  # d bce / da, dp / da
        else:
            p, pc = a, np.clip(a, eps, one - eps)
            bce = -(y * np.log(pc) + (one - y) * np.log(one - pc))
            dbce, dp = np.where(a == pc, (pc - y) / (pc * (one - pc)), d(0)), one
        u = one - (y * p + (one - y) * (one - p))
        du = (one - d(2) * y) * dp
        f, df = focal_factor(u, d(gamma))
        w = y * d(alpha) + (one - y) * (one - d(alpha)) if balance else one
        sums[LOSS] += float(np.sum(w * (f * bce), dtype=np.float64)) / k
        # (a saturated sigmoid has du = 0 where df may be infinite, gamma < 1: the limit is 0)
        g[...] = w * (np.where(du == 0, d(0), df * du) * bce + f * dbce) / d(n * k)
        if mode == 2:
            a[...] = p


def categorical_focal_rows(mode: int, gamma: float, alpha: float, a, y, g, sums) -> None:
    """sum_j alpha (1 - q_j)^gamma (-y_j log q_j) per row, q = clip(p / sum(p), eps, 1 - eps),
    p = a (mode 0) or its softmax (mode 1); no gradient through the clip."""
    n = a.shape[0]
    d = a.dtype.type
    one, eps, alpha = d(1), d(PROB_EPSILON), d(alpha)
    p = a
    if mode != 0:
        e = np.exp(a - a.max(axis=1, keepdims=True))
        p = e / e.sum(axis=1, keepdims=True)
    s = np.maximum(p.sum(axis=1, keepdims=True), np.finfo(a.dtype).tiny)
    q = p / s
    qc = np.clip(q, eps, one - eps)
    ce = -y * np.log(qc)
    f, df = focal_factor(one - qc, d(gamma))
    sums[LOSS] += float(np.sum(alpha * f * ce, dtype=np.float64))
    grad_q = np.where(q == qc, -alpha * (df * ce + f * y / qc), d(0))
    grad_p = (grad_q - (grad_q * q).sum(axis=1, keepdims=True)) / s
    if mode != 0:  # through the softmax: dL/dz = p (dL/dp - sum_j p_j dL/dp_j)
        grad_p = p * (grad_p - (p * grad_p).sum(axis=1, keepdims=True))
    g[...] = grad_p / d(n)
