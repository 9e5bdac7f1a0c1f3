"""The part of `deserialize` that initializers and regularizers share (Keras's config format)."""

from __future__ import annotations

from typing import Any, Callable


def from_config(config: Any, lookup: Callable[[str], Callable[..., Any]], what: str) -> Any:
    """Build an object from a name or {"class_name": ..., "config": {...}}.

    Args:
        config: A name, or a dict as `serialize` writes it (extra keys such as "module" are ignored).
        lookup: Maps a name to a class (or a factory function, as regularizers' `l1_l2`).
        what: The kind of object with its article, for messages: "an initializer".
    """
    if isinstance(config, str):
        return lookup(config)()
    if not isinstance(config, dict) or not isinstance(config.get("class_name"), str):
        raise TypeError(
            f"{what[0].upper()}{what[1:]} config must be a dict with a string 'class_name' and a "
            f"dict 'config'. Received: {config!r}"
        )
    cls = lookup(config["class_name"])
    kwargs = dict(config.get("config") or {})
    try:
        return cls.from_config(kwargs) if isinstance(cls, type) else cls(**kwargs)
    except TypeError as err:
        kind = what.split(" ", 1)[1]
        raise ValueError(f"Invalid config for {kind} {config['class_name']}: {err}") from err
