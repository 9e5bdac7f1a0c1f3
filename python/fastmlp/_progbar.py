"""The Keras 3 progress bar: ``1875/1875 ━━━━━━━━━━━━━━━━━━━━ 2s 1ms/step - loss: 0.3186``.

A line-for-line port of ``keras.utils.Progbar`` (Keras 3), with one change for log files: when
stdout is not a terminal, verbose 1 prints only the finished line (no ANSI colours), so a log
holds one line per epoch instead of one per redraw.
"""

from __future__ import annotations

import math
import os
import re
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

_BOLD, _GREEN, _GREY, _RESET = "\x1b[1m", "\x1b[32m", "\x1b[37m", "\x1b[0m"
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def print_msg(message: str, line_break: bool = True) -> None:
    """Writes a message to ``sys.stdout`` and flushes it (Keras's ``io_utils.print_msg``).

    Args:
        message: The text to write.
        line_break: Whether to end the message with a newline. Defaults to `True`.
    """
    stream = sys.stdout  # looked up on each call, so redirections (and pytest's capsys) apply
    stream.write(message + "\n" if line_break else message)
    stream.flush()


def is_dynamic_display() -> bool:
    """Whether stdout can redraw a line in place: a terminal, a Jupyter kernel or PyCharm."""
    isatty = getattr(sys.stdout, "isatty", None)
    return (
        (isatty is not None and isatty())
        or "ipykernel" in sys.modules
        or "PYCHARM_HOSTED" in os.environ
    )


def format_time(time_per_unit: float, unit_name: str = "step") -> str:
    """Formats a time per unit as Keras: ``" 2s/step"``, ``" 1ms/step"``, ``" 120us/step"``.

    Args:
        time_per_unit: Seconds per unit.
        unit_name: Name of the unit. Defaults to `"step"`.
    """
    if time_per_unit >= 1 or time_per_unit == 0:
        return f" {time_per_unit:.0f}s/{unit_name}"
    if time_per_unit >= 1e-3:
        return f" {time_per_unit * 1000.0:.0f}ms/{unit_name}"
    return f" {time_per_unit * 1000000.0:.0f}us/{unit_name}"


def format_eta(eta: float) -> str:
    """Formats a time left: ``"1:02:03"`` past an hour, ``"2:03"`` past a minute, else ``"7s"``.

    Args:
        eta: Remaining seconds.
    """
    if eta > 3600:
        return f"{int(eta // 3600)}:{int(eta % 3600 // 60):02d}:{int(eta % 60):02d}"
    if eta > 60:
        return f"{int(eta // 60)}:{int(eta % 60):02d}"
    return f"{int(eta)}s"


def format_value(value: Any) -> str:
    """Formats a metric: ``"%.4f"``, or ``"%.4e"`` when its magnitude is at most 1e-3 (as Keras).

    Args:
        value: A number, or an array whose mean is shown.
    """
    value = float(np.mean(value))
    return f"{value:.4f}" if abs(value) > 1e-3 else f"{value:.4e}"


class Progbar:
    """Displays a progress bar (Keras 3 ``keras.utils.Progbar``).

    Metrics are "stateless" (averaged over steps by the bar) unless named in `stateful_metrics`,
    or, when `stateless_metrics` is given, stateful unless named there.

    Args:
        target: Total number of steps expected, `None` if unknown.
        width: Width of the bar in characters. Defaults to `20`.
        verbose: 0 (silent), 1 (a bar redrawn in place) or 2 (one line when finished).
            Defaults to `1`.
        interval: Minimum seconds between two redraws. Defaults to `0.05`.
        stateful_metrics: Names of metrics shown as given, not averaged. Defaults to `None`.
        stateless_metrics: Names of metrics that are averaged; all others are shown as given.
            Give at most one of the two lists. Defaults to `None`.
        unit_name: Name of a step in the time-per-unit field. Defaults to `"step"`.
        dynamic_display: Whether to redraw in place with ``"\\r"`` and colours; `None` asks
            `is_dynamic_display()`. Defaults to `None`.
    """

    def __init__(
        self,
        target: int | None,
        width: int = 20,
        verbose: int = 1,
        interval: float = 0.05,
        stateful_metrics: Iterable[str] | None = None,
        stateless_metrics: Iterable[str] | None = None,
        unit_name: str = "step",
        dynamic_display: bool | None = None,
    ) -> None:
        if stateful_metrics is not None and stateless_metrics is not None:
            raise ValueError(
                "Progbar takes `stateful_metrics` or `stateless_metrics`, not both; "
                f"got stateful_metrics={stateful_metrics!r}, "
                f"stateless_metrics={stateless_metrics!r}"
            )
        self.target = target
        self.width = width
        self.verbose = verbose
        self.interval = interval
        self.unit_name = unit_name
        if stateless_metrics is not None:
            self.stateful_metrics, self.stateless_metrics = None, set(stateless_metrics)
        else:
            self.stateful_metrics, self.stateless_metrics = set(stateful_metrics or ()), None
        if dynamic_display is None:
            dynamic_display = is_dynamic_display()
        self._dynamic_display = dynamic_display
        self._seen_so_far = 0
        self._values: dict[str, list[Any]] = {}  # name -> [sum of value * steps, steps]
        self._start = time.time()
        self._last_update = 0.0
        self._time_after_first_step: float | None = None
        self._prev_total_width = 0

    def update(
        self,
        current: int,
        values: Iterable[tuple[str, Any]] | None = None,
        finalize: bool | None = None,
    ) -> None:
        """Updates the progress bar.

        Args:
            current: Index of the current step (1-based: steps done so far).
            values: `(name, value)` pairs for the last step(s). Defaults to `None`.
            finalize: Whether this is the last update; `None` means `current >= target`.
                Defaults to `None`.
        """
        if finalize is None:
            finalize = self.target is not None and current >= self.target
        for name, value in values or ():
            if self.stateful_metrics is not None:
                stateless = name not in self.stateful_metrics
            else:
                stateless = name in self.stateless_metrics
            if stateless and not finalize:
                # Average over steps: weigh this value by the steps since the last update.
                steps = max(current - self._seen_so_far, 1)
                total, count = self._values.get(name, (0.0, 0))
                self._values[name] = [total + value * steps, count + steps]
            else:
                self._values[name] = [value, 1]
        self._seen_so_far = current

        now = time.time()
        time_per_unit = self._estimate_step_duration(current, now)
        if self.verbose == 1:
            if now - self._last_update < self.interval and not finalize:
                return
            if self._dynamic_display or finalize:
                self._draw(current, now, time_per_unit, finalize)
        elif self.verbose == 2 and finalize and self.target:
            digits = int(math.log10(self.target)) + 1
            line = f"{current:{digits}d}/{self.target} - {now - self._start:.0f}s"
            line += f" -{format_time(time_per_unit, self.unit_name)}{self._metrics_text()}"
            print_msg(line)
        self._last_update = now

    def add(self, n: int, values: Iterable[tuple[str, Any]] | None = None) -> None:
        """Advances the bar by `n` steps.

        Args:
            n: Number of steps done since the last update.
            values: `(name, value)` pairs, as in `update`. Defaults to `None`.
        """
        self.update(self._seen_so_far + n, values)

    def _draw(self, current: int, now: float, time_per_unit: float, finalize: bool) -> None:
        """Writes the verbose-1 line; redrawn over the previous one on a dynamic display."""
        colour = self._dynamic_display

        def style(code: str, text: str) -> str:
            return f"{code}{text}{_RESET}" if colour else text

        if self.target:
            digits = int(math.log10(self.target)) + 1
            line = style(_BOLD, f"{current:{digits}d}/{self.target}") + " "
            done = min(int(self.width * current / self.target), self.width)
            if colour:
                line += (style(_GREEN, "━" * done) if done > 0 else "") + style(
                    _GREY, "━" * (self.width - done)
                )
            else:
                line += "━" * done + " " * (self.width - done)
        else:
            line = f"{current:7d}/Unknown"
        if self.target and not finalize:
            line += " " + style(_BOLD, format_eta(time_per_unit * (self.target - current)))
        else:
            line += " " + style(_BOLD, f"{now - self._start:.0f}s")
        line += format_time(time_per_unit, self.unit_name) + self._metrics_text()

        total_width = len(_ANSI.sub("", line))
        message = line
        if colour:
            message = "\r" + line + " " * max(self._prev_total_width - total_width, 0)
        if finalize:
            message += "\n"
        print_msg(message, line_break=False)
        self._prev_total_width = total_width

    def _metrics_text(self) -> str:
        """`` - name: value`` for every metric, in the order they first came."""
        return "".join(
            f" - {name}: {format_value(total / max(1, count))}"
            for name, (total, count) in self._values.items()
        )

    def _estimate_step_duration(self, current: int, now: float) -> float:
        """Seconds per step, leaving out the (often slower) first step once there are more."""
        if not current:
            return 0.0
        if self._time_after_first_step is not None and current > 1:
            time_per_unit = (now - self._time_after_first_step) / (current - 1)
        else:
            time_per_unit = (now - self._start) / current
        if current == 1:
            self._time_after_first_step = now
        return time_per_unit
