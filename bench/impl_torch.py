"""PyTorch eager: nn.Sequential, a hand-written minibatch loop over index slices, torch.optim.

The loop is the fast idiomatic one (tensors indexed by a random permutation, no DataLoader),
so the numbers are PyTorch's eager overhead and kernels, not a data-loading pipeline's.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn


class Framework:
    """The benchmark's interface (see worker.py) over PyTorch eager.

    Args:
        threads: torch.set_num_threads(threads); None keeps PyTorch's default (all cores).
        fused: use torch.optim.Adam(fused=True) (a fused CPU kernel since PyTorch 2.4).
        device: "cpu" or "cuda" (the GPU column: needs a CUDA build of torch; the pinned
            torch==2.13.0 CPU wheel has none and is reported as not supported).
    """

    label = "PyTorch eager"

    def __init__(
        self, threads: int | None = None, fused: bool = False, device: str = "cpu"
    ) -> None:
        if device != "cpu" and not torch.cuda.is_available():
            raise NotImplementedError(
                f"no CUDA in this build of torch {torch.__version__} or no GPU"
            )
        self.device = torch.device(device)
        if threads is not None:
            torch.set_num_threads(threads)
        self.fused = fused
        if fused:  # reported as "not supported" if this build has no fused Adam on the CPU
            p = nn.Parameter(torch.zeros(4))
            p.grad = torch.ones(4)
            try:
                torch.optim.Adam([p], fused=True).step()
            except (RuntimeError, ValueError) as exc:
                raise NotImplementedError(f"Adam(fused=True) on CPU: {exc}") from exc

    def versions(self) -> dict[str, str]:
        gpu = {"gpu": torch.cuda.get_device_name()} if self.device.type == "cuda" else {}
        return {
            **gpu,
            "torch": torch.__version__,
            "cpu capability": torch.backends.cpu.get_cpu_capability(),
            "blas": "MKL" if torch.backends.mkl.is_available() else "other",
        }

    def threads(self) -> int:
        return torch.get_num_threads()

    def prepare(self, x: np.ndarray, y: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        x_t = torch.from_numpy(np.ascontiguousarray(x, np.float32))
        y_t = torch.from_numpy(y.astype(np.int64) if y.dtype.kind in "iu" else y)
        return x_t.to(self.device), y_t.to(self.device)  # on a GPU: copied there once

    def _net(self, sizes: list[int], act: type[nn.Module], out: nn.Module | None) -> nn.Sequential:
        mods: list[nn.Module] = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            mods.append(nn.Linear(fan_in, fan_out))
            if k < len(sizes) - 2:
                mods.append(act())
        if out is not None:
            mods.append(out)
        return nn.Sequential(*mods)

    def lecture_model(self, l2: float, seed: int) -> tuple[nn.Module, Any, nn.Module]:
        torch.manual_seed(seed)
        net = self._net([784, 128, 64, 10], nn.ReLU, None).to(self.device)  # softmax: in the loss
        weights = [p for p in net.parameters() if p.ndim == 2]
        biases = [p for p in net.parameters() if p.ndim == 1]
        # Adam's weight_decay adds wd * W to the gradient: the gradient of l2 * sum(W^2) for
        # wd = 2 * l2, on the kernels only, as Keras's kernel_regularizer.
        groups = [{"params": weights, "weight_decay": 2 * l2}, {"params": biases}]
        opt = torch.optim.Adam(groups, lr=1e-3, fused=True if self.fused else None)
        return net, opt, nn.CrossEntropyLoss()

    def playground_model(self, seed: int) -> tuple[nn.Module, Any, nn.Module]:
        torch.manual_seed(seed)
        net = self._net([2, 8, 8, 1], nn.Tanh, nn.Tanh())
        return net, torch.optim.SGD(net.parameters(), lr=0.03), nn.MSELoss()

    def train_epoch(self, model: Any, data: Any, batch_size: int) -> None:
        net, opt, loss_fn = model
        x, y = data
        net.train()
        order = torch.randperm(x.shape[0], device=self.device)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(x[idx]), y[idx]).backward()
            opt.step()
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the epoch's kernels have run when the clock stops

    def train_playground(self, model: Any, data: Any, epochs: int) -> None:
        for _ in range(epochs):
            self.train_epoch(model, data, 10)

    def predict(self, model: Any, x: Any) -> np.ndarray:
        net = model[0]
        net.eval()
        with torch.inference_mode():
            out = net(x[0])
            if out.shape[1] > 1:
                out = torch.softmax(out, dim=1)
        return out.cpu().numpy()
