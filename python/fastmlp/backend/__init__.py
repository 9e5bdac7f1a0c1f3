"""Engines behind a model. `cpu` wraps the C++ core; a GPU engine will offer the same calls."""

from __future__ import annotations

from fastmlp.backend import cpu

__all__ = ["cpu", "get"]


def get(device: str = "cpu"):
    """The engine module for `device`."""
    if device == "cpu":
        return cpu
    raise ValueError(f"Unknown device {device!r}. Expected 'cpu'")
