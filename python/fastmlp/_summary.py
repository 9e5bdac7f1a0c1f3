"""`Sequential.summary()`: the table Keras 3 prints, with the same columns, widths and totals.

Keras draws it with rich: each column gets `positions` of `line_length` (76 characters by default:
an 80-column console less 4), and rich then takes the excess over the line, padding and borders
included, evenly off the columns. A cell's text wraps at spaces; a word longer than its cell ends
in "…".
"""

from __future__ import annotations

from typing import Any, Callable

_LINE_LENGTH = 76  # Keras: min(88, console columns - 4), with rich's 80 columns off a terminal
_POSITIONS = (0.45, 0.80, 1.0)


def readable_size(size: float) -> str:
    """Bytes in Keras's style: '427.29 KB'."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            return f"{size:.2f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def column_widths(line_length: int, positions: Any, columns: int) -> list[int]:
    """Each cell's width, padding included, as Keras's summary_utils and rich's Table give them
    (`positions`: the columns' right ends as fractions of the line, Trainable's left out)."""
    positions = [float(p) for p in (_POSITIONS if positions is None else positions)]
    if columns == 4:  # Keras's Trainable column: the others take 90% of their places
        positions = [p * 0.90 for p in positions] + [1.0]
    if len(positions) != columns:
        raise ValueError(f"positions: expected {columns} relative positions, got {len(positions)}")
    widths, current = [], 0
    for pos in positions:
        width = int(pos * line_length) - current
        if width < 4:
            raise ValueError("Insufficient console width to print summary.")
        widths.append(width)
        current += width
    # rich: each cell is its width plus 2 of padding; the excess over the line less its borders
    # comes off the cells evenly (rich's ratio_reduce, with Python's rounding).
    cells = [w + 2 for w in widths]
    excess = sum(cells) - (line_length - (columns + 1))
    if excess > 0:
        remaining, left = excess, columns
        for i in range(columns):
            cut = min(cells[i], round(remaining / left))
            cells[i] -= cut
            remaining -= cut
            left -= 1
    return cells


def _wrap(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` characters, broken at spaces; a longer word is cut
    with an ellipsis (rich's wrapping with overflow="ellipsis")."""
    lines: list[str] = []
    for word in text.split():
        if len(word) > width:
            word = word[: width - 1] + "…"
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines or [""]


def _row(cells: list[str], widths: list[int], aligns: str, bar: str = "│") -> str:
    wrapped = [_wrap(text, w - 2) for text, w in zip(cells, widths)]
    out = []
    for i in range(max(len(lines) for lines in wrapped)):
        parts = []
        for lines, w, align in zip(wrapped, widths, aligns):
            text = lines[i] if i < len(lines) else ""
            parts.append(
                f" {text:<{w - 2}} " if align == "<" else
                f" {text:>{w - 2}} " if align == ">" else
                " " + " " * ((w - 2 - len(text)) // 2) + text
                + " " * (w - 2 - len(text) - (w - 2 - len(text)) // 2) + " "
            )  # fmt: skip
        out.append(bar + bar.join(parts) + bar)
    return "\n".join(out)


def _rule(widths: list[int], left: str, mid: str, right: str, fill: str) -> str:
    return left + mid.join(fill * w for w in widths) + right


def _layers_in_range(model: Any, layer_range: Any) -> list[Any]:
    if layer_range is None:
        return list(model.layers)
    if not isinstance(layer_range, (list, tuple)) or len(layer_range) != 2:
        raise ValueError(f"layer_range must be a list of two layer names, got {layer_range!r}")
    names = [layer.name for layer in model.layers]
    for name in layer_range:
        if name not in names:
            raise ValueError(f"layer_range: no layer named {name!r} (the layers: {names})")
    first, last = names.index(layer_range[0]), names.index(layer_range[1])
    return list(model.layers)[first : last + 1]


def print_summary(
    model: Any,
    line_length: int | None = None,
    positions: Any = None,
    print_fn: Callable[[str], Any] | None = None,
    show_trainable: bool = False,
    layer_range: Any = None,
) -> None:
    """Print `model`'s layer table and parameter totals, as Keras 3's `summary`."""
    emit = print_fn or print
    header = ["Layer (type)", "Output Shape", "Param #"] + (["Trainable"] if show_trainable else [])
    aligns = "<<>^"[: len(header)]
    if line_length is None:
        line_length = _LINE_LENGTH  # (+12 with the Trainable column, then capped at 76 again)
    elif isinstance(line_length, bool) or not isinstance(line_length, int) or line_length < 1:
        raise ValueError(f"line_length must be a positive int, got {line_length!r}")
    widths = column_widths(line_length, positions, len(header))
    lines = [
        f'Model: "{model.name}"',
        _rule(widths, "┏", "┳", "┓", "━"),
        _row(header, widths, aligns, "┃"),
        _rule(widths, "┡", "╇", "┩", "━"),
    ]
    rows = []
    for layer in _layers_in_range(model, layer_range):
        cells = [f"{layer.name} ({type(layer).__name__})"]
        if model.built:
            cells.append(str((None, *layer.compute_output_shape(model._layer_input_shape(layer)))))
            cells.append(f"{layer.count_params():,}")
        else:
            cells += ["?", "0 (unbuilt)"]
        if show_trainable:
            has_weights = model.built and bool(layer.get_weights())
            cells.append(("Y" if layer.trainable else "N") if has_weights else "-")
        rows.append(_row(cells, widths, aligns))
    lines.append(("\n" + _rule(widths, "├", "┼", "┤", "─") + "\n").join(rows))
    lines.append(_rule(widths, "└", "┴", "┘", "─"))
    lines += _totals(model)
    for line in lines:
        emit(line)


def _totals(model: Any) -> list[str]:
    itemsize = model.dtype.itemsize
    total = model.count_params() if model.built else 0
    frozen = (
        sum(w.size for layer in model.layers for w in layer.non_trainable_weights)
        if model.trainable and model.built
        else total
    )
    trained = total - frozen
    # (bytes beyond `itemsize` each, such as a Normalization's int64 count, are non-trainable)
    total_bytes = sum(layer._byte_size(itemsize) for layer in model.layers) if total else 0
    frozen_bytes = total_bytes - trained * itemsize
    optimizer = None
    if model.built and model.optimizer is not None and model.optimizer.iterations > 0:
        # Keras's optimizer variables: a slot per trainable weight, Nadam's u_product, the
        # iteration counter (int64) and the learning rate (none with a schedule); its "Total
        # params" counts them too.
        _, slots, scalars = model._engine.get_optimizer_state()
        rate = model.optimizer._schedule is None
        count = (len(slots) * trained + len(scalars)) + 1 + rate
        optimizer = (count, (len(slots) * trained + len(scalars) + rate) * itemsize + 8)
    all_params = total + (optimizer[0] if optimizer else 0)
    all_bytes = total_bytes + (optimizer[1] if optimizer else 0)
    lines = [
        f" Total params: {all_params:,} ({readable_size(all_bytes)})",
        f" Trainable params: {trained:,} ({readable_size(total_bytes - frozen_bytes)})",
        f" Non-trainable params: {frozen:,} ({readable_size(frozen_bytes)})",
    ]
    if optimizer:
        lines.append(f" Optimizer params: {optimizer[0]:,} ({readable_size(optimizer[1])})")
    return lines
