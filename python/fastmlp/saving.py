"""Saving and loading models: one zip file of JSON and raw `.npy` arrays, never pickle.

A file (format "fastmlp", version 1) holds:

    config.json          format and version, the model's `get_config()`, the compile settings, a
                         manifest of the arrays (name, shape, dtype), the optimizer's step count
                         (and its scalar state: Nadam's u_product) and the state of the model's
                         random generator
    weights/0000.npy     the arrays of `model.get_weights()`, in order
    optimizer/0000.npy   the optimizer's slot vectors (Adam's m and v, ...), when saved

A save writes a temporary file in the target's folder, flushes and fsyncs it, then renames it over
the target, so a crash or Ctrl-C during a save leaves the previous file as it was. A load checks
every member's name, declared size, compression ratio and `.npy` header against the config before
it reads the member, and builds the model only once every shape matches; anything wrong in the
file is a ValueError that names the file and the problem, and no read is larger than the file.

Example:
    >>> model.save("mnist.fastmlp")
    >>> model = fastmlp.models.load_model("mnist.fastmlp")
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import stat
import tempfile
import zipfile
from typing import Any, Union

import numpy as np

from fastmlp import backend, losses, metrics, models, optimizers
from fastmlp._archive import FORMAT, VERSION, Archive
from fastmlp._validation import warn_user
from fastmlp.backend.gpu import GPUUnavailableError

__all__ = ["load_model", "load_weights", "save_model", "save_weights"]

MAX_SLOTS = 8  # optimizer slot vectors (Adam with amsgrad has 3)
MAX_SCALARS = 8  # optimizer scalars besides the step count (Nadam has 1)
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # same bytes for the same model

PathLike = Union[str, "os.PathLike[str]"]


# -- saving ------------------------------------------------------------------------------------


def save_model(
    model: models.Sequential,
    filepath: PathLike,
    overwrite: bool = True,
    include_optimizer: bool = True,
) -> None:
    """Save the architecture, weights, compile settings and (optionally) the optimizer state.

    Training resumes exactly after `load_model`: the optimizer's slots and step count and the
    model's random generator (shuffling, dropout) are saved with the weights.

    Args:
        model: A `Sequential` model (built or not).
        filepath: Where to write, e.g. "model.fastmlp".
        overwrite: Replace an existing file. Defaults to True.
        include_optimizer: Save the optimizer's state so training resumes exactly. Defaults to True.
    """
    _check_model(model)
    _write_archive(filepath, *_model_archive(model, include_optimizer), overwrite)


def model_bytes(model: models.Sequential) -> bytes:
    """The file `save_model` writes, as bytes (pickle and copy.deepcopy of a model)."""
    _check_model(model)
    buffer = io.BytesIO()
    _write_zip(buffer, *_model_archive(model, include_optimizer=True))
    return buffer.getvalue()


def model_from_bytes(
    data: bytes, device: str | None = None, custom_objects: dict[str, Any] | None = None
) -> models.Sequential:
    """The model of `model_bytes` on `device` (if it can be used here: else, with a warning, on
    the default device), through load_model's checks."""
    if device is not None:
        try:
            backend.require(device)
        except GPUUnavailableError as err:  # a GPU model unpickled on a machine without one
            warn_user(
                f"the model was on {device!r}, which is not available here ({err}); "
                "it is loaded on the default device",
                RuntimeWarning,
            )
            device = None
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.fastmlp")
        with open(path, "wb") as f:
            f.write(data)
        return load_model(path, device=device, custom_objects=custom_objects)


def _model_archive(
    model: models.Sequential, include_optimizer: bool
) -> tuple[dict[str, Any], list[tuple[str, np.ndarray]]]:
    """The config and array members of a saved model."""
    weights = model.get_weights() if model.built else []
    config: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "kind": "model",
        "model": model.get_config(),
        "compile": None,
        "weights": [],
        "optimizer": None,
        "rng_state": None,
    }
    members = _array_members(config["weights"], "weights", weights)
    if model.compiled:
        config["compile"] = compile_config(model)
        if model._signed_targets:  # trained on {-1, +1} labels: the accuracy's sign rule
            config["compile"]["signed_targets"] = True
        if model._l1_clipping:  # the Playground's L1 rule
            config["compile"]["l1_clipping"] = True
    if model.built:
        engine = model._engine
        config["rng_state"] = [int(word) for word in engine.get_rng_state()]
        if include_optimizer and model.compiled and weights:  # (no parameters: no state)
            iterations, slots, scalars = engine.get_optimizer_state()
            config["optimizer"] = {"iterations": int(iterations), "slots": []}
            if scalars:  # (JSON floats round-trip exactly)
                config["optimizer"]["scalars"] = [float(value) for value in scalars]
            members += _array_members(config["optimizer"]["slots"], "optimizer", list(slots))
    return config, members


def compile_config(model: models.Sequential) -> dict[str, Any]:
    """A compiled model's optimizer, loss and metrics as JSON values (no optimizer state), for
    `_compile_args` (Keras's `get_compile_config`)."""
    config = {
        "optimizer": optimizers.serialize(model.optimizer),
        "loss": losses.serialize(model.loss),
        "metrics": _metric_configs(model.compiled_metrics),
    }
    if model.compiled_weighted_metrics:  # (files without them read as before)
        config["weighted_metrics"] = _metric_configs(model.compiled_weighted_metrics)
    return config


def _metric_configs(compiled: list[Any]) -> list[dict[str, Any]]:
    return [{"class_name": type(m).__name__, "config": m.get_config()} for m in compiled]


def save_weights(model: models.Sequential, filepath: PathLike, overwrite: bool = True) -> None:
    """Save only the weights (the arrays of `get_weights()`), for `load_weights`.

    Args:
        model: A built `Sequential` model.
        filepath: Where to write, e.g. "model.weights.fastmlp".
        overwrite: Replace an existing file. Defaults to True.
    """
    _check_model(model)
    weights = model.get_weights()  # a clear ValueError if the model is not built
    config: dict[str, Any] = {"format": FORMAT, "version": VERSION, "kind": "weights"}
    config["weights"] = []
    members = _array_members(config["weights"], "weights", weights)
    _write_archive(filepath, config, members, overwrite)


def _check_model(model: Any) -> None:
    if not isinstance(model, models.Sequential):
        raise TypeError(f"model must be a fastmlp Sequential model, got {type(model).__name__}")


def _array_members(
    manifest: list[dict[str, Any]], folder: str, arrays: list[np.ndarray]
) -> list[tuple[str, np.ndarray]]:
    members = []
    for i, arr in enumerate(arrays):
        name = f"{folder}/{i:04d}.npy"
        manifest.append({"file": name, "shape": list(arr.shape), "dtype": arr.dtype.name})
        members.append((name, arr))
    return members


def _write_archive(
    filepath: PathLike,
    config: dict[str, Any],
    members: list[tuple[str, np.ndarray]],
    overwrite: bool,
) -> None:
    """Write config.json and the arrays to a temporary file, then rename it over `filepath`
    (over the file a symbolic link points to: the link stays)."""
    path = os.fspath(filepath)
    if not isinstance(path, str):
        raise TypeError(f"filepath must be a str or a path, got {type(filepath).__name__}")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists; pass overwrite=True to replace it")
    if path.lower().endswith((".keras", ".h5", ".hdf5")):
        warn_user(
            f"{path}: fastmlp writes its own format (a zip of JSON and .npy arrays) whatever the "
            "file's name; this is not a Keras file and Keras cannot load it. Name it "
            "'.fastmlp' (model.save) or '.weights.fastmlp' (save_weights)"
        )
    path = os.path.realpath(path)
    with contextlib.suppress(FileNotFoundError):
        if not stat.S_ISREG(os.stat(path).st_mode):  # a folder, FIFO or device is not replaced
            raise ValueError(f"filepath: {filepath} exists and is not a regular file")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        mode = os.stat(path).st_mode & 0o777
    except OSError:
        mode = 0o644
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            _write_zip(f, config, members)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:  # also KeyboardInterrupt: the old file stays, the temporary goes
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable (POSIX)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _write_zip(f: Any, config: dict[str, Any], members: list[tuple[str, np.ndarray]]) -> None:
    text = json.dumps(config, allow_nan=False, sort_keys=True).encode("utf-8")
    with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        _write_member(zf, "config.json", text)
        for name, arr in members:
            _write_member(zf, name, arr)


def _write_member(zf: zipfile.ZipFile, name: str, value: bytes | np.ndarray) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    if isinstance(value, bytes):
        zf.writestr(info, value)
        return
    arr = np.ascontiguousarray(value).reshape(np.shape(value))  # (it makes 0-d arrays 1-d)
    with zf.open(info, "w", force_zip64=arr.nbytes > (1 << 30)) as f:
        np.lib.format.write_array(f, arr, allow_pickle=False)


# -- loading -----------------------------------------------------------------------------------


def load_model(
    filepath: PathLike,
    compile: bool = True,
    device: str | None = None,
    custom_objects: dict[str, Any] | None = None,
) -> models.Sequential:
    """Load a model saved by `save_model` / `model.save`: architecture, weights, compile settings.

    The file is checked completely before anything is built; a truncated, corrupted or hostile
    file raises ValueError. No code is ever run from a file.

    Args:
        filepath: The file written by `save_model`.
        compile: Compile the model with the saved optimizer, loss and metrics and restore the
            optimizer state. Defaults to True.
        device: The engine to load onto ("cpu", "gpu", "numpy"); defaults to
            `config.get_device()`.
        custom_objects: Classes of your own that the file names by name: {"MySchedule":
            MySchedule} for a learning-rate schedule (a file only names them; the code is yours).

    Returns:
        The model, with the weights, optimizer state and random generator state it was saved with.
    """
    if device is not None:
        device = backend.require(device)  # a bad device is the caller's, not the file's
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            f"custom_objects must be a dict of names to classes, got {type(custom_objects).__name__}"
        )
    with Archive(filepath) as archive:
        config = archive.config
        if config["kind"] != "model":
            raise archive.error(
                "holds only weights (written by save_weights); use model.load_weights"
            )
        model = archive.call(
            "config", models.Sequential.from_config, archive.entry_dict(config, "model"), device
        )
        visible, every = archive.call("config", _weight_shapes, model)
        shapes = _layout_of(archive, visible, every)
        weights = archive.arrays("weights", shapes)
        settings = config.get("compile") if compile else None
        compile_args = None
        if settings is not None:
            compile_args = archive.call(
                "config", _compile_args, archive.entry_dict(config, "compile"), custom_objects
            )
        slots, iterations, scalars = [], 0, []
        opt_state = config.get("optimizer")
        if opt_state is not None:  # read and checked even when not compiling (and when
            # the model has no parameters: files of earlier versions held empty slots then)
            opt_state = archive.entry_dict(config, "optimizer")
            iterations = archive.integer(opt_state.get("iterations"), "optimizer iterations")
            size = sum(math.prod(s) for s in every)  # (slots span the constants too)
            count = len(archive.entry_list(opt_state, "slots"))
            if count > MAX_SLOTS:
                raise archive.error(f"has {count} optimizer slot arrays, at most {MAX_SLOTS}")
            slots = archive.arrays("optimizer", [(size,)] * count, manifest=opt_state)
            scalars = _scalars(archive, opt_state.get("scalars", []))
        rng = _rng_state(archive, config.get("rng_state")) if every else None
        archive.check_all_members_used()
        # Everything checked: now build (the sizes are those of the arrays just read).
        settings = config.get("compile")
        model._l1_clipping = isinstance(settings, dict) and settings.get("l1_clipping") is True
        if compile_args is not None:
            archive.call("compile config", model.compile, **compile_args)
        # (kept with compile=False too: a later compile's accuracy uses it)
        model._signed_targets = (
            isinstance(settings, dict) and settings.get("signed_targets") is True
        )
        if every:
            archive.call("weights", _set_weights, model, weights, shapes is every)
            if opt_state is not None and compile_args is not None:
                archive.call(
                    "optimizer state",
                    model._engine.set_optimizer_state,
                    iterations,
                    slots,
                    scalars,
                )
            if rng is not None:
                model._engine.set_rng_state(rng)
        return model


def load_weights(model: models.Sequential, filepath: PathLike) -> None:
    """Load weights saved by `save_weights` (or the weights of a `save_model` file) into `model`.

    Args:
        model: A built `Sequential` model with the same layer shapes as the saved one.
        filepath: The file to read.
    """
    _check_model(model)
    current = model.get_weights()  # a clear ValueError if the model is not built
    with Archive(filepath) as archive:
        visible = [tuple(w.shape) for w in current]
        every = [tuple(s) for layer in model._layers for s in layer._engine_shapes()]
        saved = archive.entry_list(archive.config, "weights")
        if len(saved) not in (len(visible), len(every)):
            raise archive.error(
                f"holds {len(saved)} weight arrays, the model has {len(visible)} (see get_weights())"
            )
        shapes = _layout_of(archive, visible, every)
        weights = archive.arrays("weights", shapes)
        if archive.config["kind"] == "weights":
            archive.check_all_members_used()
        archive.call("weights", _set_weights, model, weights, shapes is every)


def _weight_shapes(
    model: models.Sequential,
) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Shapes implied by the config, found without building the model: of `get_weights()`, and
    of every parameter array of the engine (constants too: a Normalization given its mean and
    variance)."""
    current = model._input_shape
    visible: list[tuple[int, ...]] = []
    every: list[tuple[int, ...]] = []
    if current is None or not model._layers:
        return visible, every
    for layer in model._layers:
        shapes = [tuple(s) for s in layer.weight_shapes(current)]
        every += shapes
        if not layer._constants():
            visible += shapes
        current = layer.compute_output_shape(current)
    return visible, every


def _layout_of(
    archive: Archive, visible: list[tuple[int, ...]], every: list[tuple[int, ...]]
) -> list[tuple[int, ...]]:
    """The shapes of the file's weight arrays: `visible` (those of get_weights()), or `every`
    for a file of an earlier version, which held a given Normalization's constants as weights."""
    count = len(archive.entry_list(archive.config, "weights"))
    return every if count == len(every) != len(visible) else visible


def _set_weights(model: models.Sequential, arrays: list[np.ndarray], every: bool) -> None:
    """A file's arrays into `model`: those of get_weights(), or (every) all its parameters."""
    if not every:
        model.set_weights(arrays)
        return
    entries, position = [], 0
    for layer in model._layers:
        shapes = layer._engine_shapes()
        entries.append(
            (layer._param_offset, shapes, arrays[position : position + len(shapes)], layer.name)
        )
        position += len(shapes)
    model._write_weights(entries)


_METRICS = {
    name: getattr(metrics, name) for name in metrics.__all__ if name not in ("Metric", "get")
}


def _compile_args(
    settings: dict[str, Any], custom_objects: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "optimizer": optimizers.deserialize(settings["optimizer"], custom_objects),
        "loss": losses.deserialize(settings["loss"]),
        "metrics": _metrics_of(settings.get("metrics")),
        "weighted_metrics": _metrics_of(settings.get("weighted_metrics")),
    }


def _metrics_of(entries: Any) -> list[metrics.Metric]:
    compiled = []
    for entry in entries or []:
        cls = _METRICS.get(entry["class_name"])
        if cls is None:
            raise ValueError(f"unknown metric class {entry['class_name']!r}")
        if not isinstance(entry["config"].get("name", ""), str):
            raise TypeError("a metric's name must be a string")
        compiled.append(cls.from_config(entry["config"]))
    return compiled


def _scalars(archive: Archive, values: Any) -> list[float]:
    """The optimizer's scalars as saved (the engine checks that they fit its optimizer)."""
    if not isinstance(values, list) or len(values) > MAX_SCALARS:
        raise archive.error(
            f"has invalid optimizer scalars: expected a list of at most {MAX_SCALARS}"
        )
    if not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values
    ):
        raise archive.error("has invalid optimizer scalars: expected finite numbers")
    return [float(v) for v in values]


def _rng_state(archive: Archive, state: Any) -> list[int] | None:
    if state is None:
        return None
    words = state if isinstance(state, list) else None
    if words is None or len(words) != 4:
        raise archive.error("has invalid rng_state: expected a list of 4 integers")
    words = [archive.integer(w, "rng_state", 1 << 64) for w in words]
    if not any(words):
        raise archive.error("has invalid rng_state: all zero, which the generator cannot use")
    return words
