"""`Sequential.summary()`: the table Keras 3 prints, with the same columns and totals."""

from __future__ import annotations

from typing import Any, Callable

_WIDTHS = (33, 24, 15)  # Keras 3's default column widths for a Sequential model


def readable_size(size: float) -> str:
    """Bytes in Keras's style: '427.29 KB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def _row(cells: tuple[str, str, str], bar: str = "│") -> str:
    name, shape, params = cells
    w = _WIDTHS
    return (
        f"{bar} {name:<{w[0] - 2}.{w[0] - 2}} {bar} {shape:<{w[1] - 2}} {bar} "
        f"{params:>{w[2] - 2}} {bar}"
    )


def _rule(left: str, mid: str, right: str, fill: str) -> str:
    return left + mid.join(fill * w for w in _WIDTHS) + right


def print_summary(
    model: Any, line_length: int | None = None, print_fn: Callable[[str], Any] | None = None
) -> None:
    """Print `model`'s layer table and parameter totals (line_length is accepted for Keras compatibility)."""
    emit = print_fn or print
    lines = [
        f'Model: "{model.name}"',
        _rule("┏", "┳", "┓", "━"),
        _row(("Layer (type)", "Output Shape", "Param #"), "┃"),
        _rule("┡", "╇", "┩", "━"),
    ]
    rows = []
    for layer in model.layers:
        label = f"{layer.name} ({type(layer).__name__})"
        if model.built:
            shape = str((None, *layer.compute_output_shape(model._layer_input_shape(layer))))
            rows.append(_row((label, shape, f"{layer.count_params():,}")))
        else:
            rows.append(_row((label, "?", "0 (unbuilt)")))
    lines.append(("\n" + _rule("├", "┼", "┤", "─") + "\n").join(rows))
    lines.append(_rule("└", "┴", "┘", "─"))
    itemsize = model.dtype.itemsize
    total = model.count_params() if model.built else 0
    frozen = (
        sum(w.size for layer in model.layers for w in layer.non_trainable_weights)
        if model.trainable and model.built
        else total
    )
    lines += [
        f" Total params: {total:,} ({readable_size(total * itemsize)})",
        f" Trainable params: {total - frozen:,} ({readable_size((total - frozen) * itemsize)})",
        f" Non-trainable params: {frozen:,} ({readable_size(frozen * itemsize)})",
    ]
    if model.built and model.optimizer is not None and model.optimizer.iterations > 0:
        # Keras counts the slot variables plus the iteration counter and the learning rate.
        # (and Nadam's u_product)
        _, slots, scalars = model._engine.get_optimizer_state()
        count = sum(s.size for s in slots) + len(scalars) + 2
        lines.append(f" Optimizer params: {count:,} ({readable_size(count * itemsize)})")
    for line in lines:
        emit(line)
