"""PyTorch eager: nn.Sequential, a hand-written minibatch loop over index slices, torch.optim.

The loop is the fast idiomatic one (tensors indexed by a random permutation, no DataLoader),
so the numbers are PyTorch's eager overhead and kernels, not a data-loading pipeline's. On a GPU,
`cuda_graph=True` replays each full batch's whole step as a CUDA graph, by PyTorch's own recipe
(https://pytorch.org/docs/stable/notes/cuda.html#whole-network-capture).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

GRAPH_WARMUP_STEPS = 3  # eager steps on a side stream before capture, as the recipe has it


@dataclass
class Model:
    """A network with its optimizer and loss, and the CUDA graphs captured for it."""

    net: nn.Module
    opt: torch.optim.Optimizer
    loss_fn: nn.Module
    # batch size -> (graph, static input, static target): one captured training step
    graphs: dict[int, tuple[Any, torch.Tensor, torch.Tensor]] = field(default_factory=dict)


class Framework:
    """The benchmark's interface (see worker.py) over PyTorch eager.

    Args:
        threads: torch.set_num_threads(threads); None keeps PyTorch's default (all cores).
        fused: use torch.optim.Adam(fused=True) (a fused CPU kernel since PyTorch 2.4).
        device: "cpu" or "cuda" (the GPU column: needs a CUDA build of torch; the pinned
            torch==2.13.0 CPU wheel has none and is reported as not supported).
        cuda_graph: capture each full batch's training step (zero_grad, forward, loss,
            backward, Adam(capturable=True) step) once as a CUDA graph and replay it; a last
            partial batch runs eagerly. Needs device="cuda".
    """

    label = "PyTorch eager"

    def __init__(
        self,
        threads: int | None = None,
        fused: bool = False,
        device: str = "cpu",
        cuda_graph: bool = False,
    ) -> None:
        if device != "cpu" and not torch.cuda.is_available():
            raise NotImplementedError(
                f"no CUDA in this build of torch {torch.__version__} or no GPU"
            )
        if cuda_graph and device != "cuda":
            raise ValueError(f"cuda_graph=True needs device='cuda', got {device!r}")
        self.device = torch.device(device)
        self.cuda_graph = cuda_graph
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
        gpu = {}
        if self.device.type == "cuda":  # "highest": plain float32 products, no TF32
            gpu = {
                "gpu": torch.cuda.get_device_name(),
                "cuda": str(torch.version.cuda),
                "float32 matmul precision": torch.get_float32_matmul_precision(),
            }
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

    def lecture_model(self, l2: float, seed: int) -> Model:
        return self._classifier([784, 128, 64, 10], l2, seed)

    def wide_model(self, width: int, seed: int) -> Model:
        return self._classifier([width, width, width, 10], 0.0, seed)

    def _classifier(self, sizes: list[int], l2: float, seed: int) -> Model:
        torch.manual_seed(seed)
        net = self._net(sizes, nn.ReLU, None).to(self.device)  # softmax: in the loss
        weights = [p for p in net.parameters() if p.ndim == 2]
        biases = [p for p in net.parameters() if p.ndim == 1]
        # Adam's weight_decay adds wd * W to the gradient: the gradient of l2 * sum(W^2) for
        # wd = 2 * l2, on the kernels only, as Keras's kernel_regularizer.
        groups = [{"params": weights, "weight_decay": 2 * l2}, {"params": biases}]
        opt = torch.optim.Adam(
            groups, lr=1e-3, fused=True if self.fused else None, capturable=self.cuda_graph
        )
        return Model(net, opt, nn.CrossEntropyLoss())

    def playground_model(self, seed: int) -> Model:
        torch.manual_seed(seed)
        net = self._net([2, 8, 8, 1], nn.Tanh, nn.Tanh())
        return Model(net, torch.optim.SGD(net.parameters(), lr=0.03), nn.MSELoss())

    def train_epoch(self, model: Model, data: Any, batch_size: int) -> None:
        x, y = data
        model.net.train()
        order = torch.randperm(x.shape[0], device=self.device)
        for start in range(0, x.shape[0], batch_size):
            idx = order[start : start + batch_size]
            if self.cuda_graph and len(idx) == batch_size:
                self._replay(model, x, y, idx)
            else:
                self._step(model, x[idx], y[idx])
        if self.device.type == "cuda":
            torch.cuda.synchronize()  # the epoch's kernels have run when the clock stops

    def _step(self, model: Model, xb: torch.Tensor, yb: torch.Tensor) -> None:
        # With graphs, zero the gradients in place: the captured step reads and writes them at
        # fixed addresses, so they must stay the same tensors.
        model.opt.zero_grad(set_to_none=not model.graphs)
        model.loss_fn(model.net(xb), yb).backward()
        model.opt.step()

    def _replay(self, model: Model, x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> None:
        """One step: the batch copied into the static tensors, the captured graph replayed."""
        if len(idx) not in model.graphs:
            model.graphs[len(idx)] = self._capture(model, x[idx], y[idx])
        graph, static_x, static_y = model.graphs[len(idx)]
        static_x.copy_(x[idx])
        static_y.copy_(y[idx])
        graph.replay()

    def _capture(self, model: Model, xb: torch.Tensor, yb: torch.Tensor) -> tuple[Any, Any, Any]:
        """PyTorch's whole-network capture: warm-up steps on a side stream, then one step
        recorded into a CUDA graph (its memory from the graph's private pool)."""
        static_x, static_y = xb.clone(), yb.clone()
        side = torch.cuda.Stream()
        side.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP_STEPS):
                self._step(model, static_x, static_y)
        torch.cuda.current_stream().wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        model.opt.zero_grad(set_to_none=True)  # backward allocates the static grads in the graph
        with torch.cuda.graph(graph):
            model.loss_fn(model.net(static_x), static_y).backward()
            model.opt.step()
        return graph, static_x, static_y

    def train_epochs(self, model: Model, data: Any, batch_size: int, epochs: int) -> None:
        for _ in range(epochs):
            self.train_epoch(model, data, batch_size)

    def train_playground(self, model: Model, data: Any, epochs: int) -> None:
        self.train_epochs(model, data, 10, epochs)

    def weights(self, model: Model) -> list[np.ndarray]:
        return [p.detach().cpu().numpy() for p in model.net.parameters()]

    def predict(self, model: Model, x: Any) -> np.ndarray:
        net = model.net
        net.eval()
        with torch.inference_mode():
            out = net(x[0])
            if out.shape[1] > 1:
                out = torch.softmax(out, dim=1)
        return out.cpu().numpy()

    # The GEMM rate of this device's BLAS: torch.matmul (MKL / OpenBLAS on the CPU, cuBLAS on CUDA).
    def gemm_operands(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=gen) for _ in range(2))
        return a.to(self.device), b.to(self.device)

    def matmul(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        return torch.matmul(a, b)

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
