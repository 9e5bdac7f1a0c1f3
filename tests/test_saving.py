"""Saving and loading: exact round trips, exact resumption, atomic writes and hostile files.

A hostile or broken file must give a ValueError naming the problem, before the model is built and
without reading more than the file holds: each hostile case also checks the peak of Python/NumPy
allocations during the load (tracemalloc) against a small bound.
"""

from __future__ import annotations

import copy
import io
import json
import os
import pathlib
import pickle
import stat
import struct
import threading
import tracemalloc
import warnings
import zipfile
from typing import Any, Callable

import fastmlp as fm
import numpy as np
import pytest
from fastmlp import callbacks, layers, models, optimizers, saving

FEATURES, CLASSES = 5, 3
_rng = np.random.default_rng(0)
X = _rng.normal(size=(120, FEATURES)).astype(np.float32)
Y = (X[:, 0] > 0).astype(int) + (X[:, 1] > 0.5).astype(int)


def make_model(
    optimizer: Any = None, dtype: str | None = None, dropout: float = 0.2, seed: int = 3
) -> fm.Sequential:
    """5 -> 8 relu -> dropout -> 3 softmax, compiled (Adam(0.01) unless given)."""
    model = fm.Sequential(
        [
            layers.Input(shape=(FEATURES,)),
            layers.Dense(8, activation="relu"),
            layers.Dropout(dropout),
            layers.Dense(CLASSES, activation="softmax"),
        ],
        seed=seed,
        dtype=dtype,
    )
    model.compile(
        optimizer=optimizer if optimizer is not None else optimizers.Adam(0.01),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def trained(path: pathlib.Path, **kwargs: Any) -> pathlib.Path:
    """A file holding a model trained one epoch."""
    model = make_model(**kwargs)
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    model.save(path)
    return path


def assert_same_weights(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


# -- round trips --------------------------------------------------------------------------------


def test_round_trip_keeps_architecture_weights_and_compile_settings(tmp_path):
    model = make_model(optimizer=optimizers.SGD(0.05, momentum=0.9, nesterov=True))
    model.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert loaded.get_config() == model.get_config()
    assert_same_weights(loaded.get_weights(), model.get_weights())
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))
    assert isinstance(loaded.optimizer, optimizers.SGD)
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.loss.get_config() == model.loss.get_config()
    assert loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.evaluate(X, Y, verbose=0) == model.evaluate(X, Y, verbose=0)


def test_float64_model_round_trips_in_float64(tmp_path):
    model = make_model(dtype="float64")
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert loaded.dtype == np.float64
    assert_same_weights(loaded.get_weights(), model.get_weights())


def test_unbuilt_and_uncompiled_models_round_trip(tmp_path):
    model = fm.Sequential([layers.Dense(4, activation="tanh"), layers.Dense(2)], seed=1)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert not loaded.built and not loaded.compiled
    assert loaded.get_config() == model.get_config()
    built = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2)], seed=1)
    built.save(tmp_path / "b.fastmlp")
    again = models.load_model(tmp_path / "b.fastmlp")
    assert again.built and not again.compiled
    assert_same_weights(again.get_weights(), built.get_weights())


def test_metrics_of_every_kind_round_trip(tmp_path):
    model = fm.Sequential([layers.Input(shape=(4,)), layers.Dense(2, activation="sigmoid")])
    model.compile(
        optimizer="rmsprop",
        loss="binary_crossentropy",
        metrics=[fm.metrics.BinaryAccuracy(threshold=0.3), "mae", "mse"],
    )
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert loaded.metrics_names == model.metrics_names
    assert loaded.compiled_metrics[0].threshold == 0.3


OPTIMIZERS = {
    "sgd-momentum": lambda: optimizers.SGD(0.05, momentum=0.9),
    "adam-amsgrad": lambda: optimizers.Adam(0.01, amsgrad=True),
    "adamw": lambda: optimizers.AdamW(0.01),
    "rmsprop-centered-momentum": lambda: optimizers.RMSprop(0.01, momentum=0.5, centered=True),
    "adagrad": lambda: optimizers.Adagrad(0.05),
    "adadelta": lambda: optimizers.Adadelta(1.0),
    "nadam": lambda: optimizers.Nadam(0.01),
    "adamax": lambda: optimizers.Adamax(0.01),
    "lion": lambda: optimizers.Lion(1e-3),
    "ftrl": lambda: optimizers.Ftrl(0.1, l1_regularization_strength=1e-3),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_is_restored_exactly(tmp_path, name):
    model = make_model(optimizer=OPTIMIZERS[name]())
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp")
    it, slots, scalars = model._engine.get_optimizer_state()
    it2, slots2, scalars2 = loaded._engine.get_optimizer_state()
    assert scalars2 == scalars
    assert it2 == it == loaded.optimizer.iterations == 8
    assert_same_weights(list(slots2), list(slots))
    assert loaded._engine.get_rng_state() == model._engine.get_rng_state()


@pytest.mark.parametrize(
    "name", ["sgd-momentum", "adam-amsgrad", "rmsprop-centered-momentum", "nadam", "ftrl"]
)
def test_resumed_training_equals_uninterrupted_training(tmp_path, name):
    uninterrupted = make_model(optimizer=OPTIMIZERS[name]())
    uninterrupted.fit(X, Y, epochs=3, batch_size=16, shuffle=True, verbose=0)
    first = make_model(optimizer=OPTIMIZERS[name]())
    first.fit(X, Y, epochs=1, batch_size=16, shuffle=True, verbose=0)
    first.save(tmp_path / "m.fastmlp")
    del first
    resumed = models.load_model(tmp_path / "m.fastmlp")
    resumed.fit(X, Y, epochs=3, initial_epoch=1, batch_size=16, shuffle=True, verbose=0)
    assert resumed.optimizer.iterations == uninterrupted.optimizer.iterations
    assert_same_weights(resumed.get_weights(), uninterrupted.get_weights())


def test_without_optimizer_state_training_restarts_the_optimizer(tmp_path):
    model = make_model()
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    model.save(tmp_path / "m.fastmlp", include_optimizer=False)
    assert not any(
        n.startswith("optimizer/") for n in zipfile.ZipFile(tmp_path / "m.fastmlp").namelist()
    )
    loaded = models.load_model(tmp_path / "m.fastmlp")
    assert loaded.compiled and loaded.optimizer.iterations == 0
    assert_same_weights(loaded.get_weights(), model.get_weights())


def test_load_model_without_compile_gives_an_uncompiled_model(tmp_path):
    loaded = models.load_model(trained(tmp_path / "m.fastmlp"), compile=False)
    assert not loaded.compiled
    assert loaded.predict(X, verbose=0).shape == (len(X), CLASSES)


def test_save_weights_and_load_weights(tmp_path):
    model = make_model()
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    model.save_weights(tmp_path / "w.fastmlp")
    other = make_model(seed=99)
    other.load_weights(tmp_path / "w.fastmlp")
    assert_same_weights(other.get_weights(), model.get_weights())
    third = make_model(seed=98)
    third.load_weights(trained(tmp_path / "m.fastmlp"))  # the weights of a full model file
    with pytest.raises(ValueError, match=r"holds only weights .*use model\.load_weights"):
        models.load_model(tmp_path / "w.fastmlp")


def test_load_weights_into_a_different_architecture_changes_nothing(tmp_path):
    make_model().save_weights(tmp_path / "w.fastmlp")
    other = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Dense(4)], seed=0)
    before = other.get_weights()
    with pytest.raises(ValueError, match=r"holds 4 weight arrays, the model has 2"):
        other.load_weights(tmp_path / "w.fastmlp")
    wider = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(9), layers.Dense(CLASSES)], seed=0
    )
    with pytest.raises(ValueError, match=r"shape \[5, 8\].*implies \[5, 9\]"):
        wider.load_weights(tmp_path / "w.fastmlp")
    assert_same_weights(other.get_weights(), before)


def test_overwrite_false_refuses_and_keeps_the_file(tmp_path):
    path = trained(tmp_path / "m.fastmlp")
    before = path.read_bytes()
    with pytest.raises(FileExistsError, match="overwrite=True"):
        make_model(seed=5).save(path, overwrite=False)
    assert path.read_bytes() == before


def test_saving_is_deterministic_and_keeps_the_file_mode(tmp_path):
    model = make_model()
    model.save(tmp_path / "a.fastmlp")
    os.chmod(tmp_path / "a.fastmlp", 0o640)
    model.save(str(tmp_path / "a.fastmlp"))
    model.save(tmp_path / "b.fastmlp")
    assert (tmp_path / "a.fastmlp").read_bytes() == (tmp_path / "b.fastmlp").read_bytes()
    assert os.stat(tmp_path / "a.fastmlp").st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.fastmlp", "b.fastmlp"]


def test_model_checkpoint_writes_loadable_files(tmp_path):
    model = make_model()
    pattern = str(tmp_path / "ckpt-{epoch}.fastmlp")
    model.fit(
        X, Y, epochs=2, batch_size=16, verbose=0, callbacks=[callbacks.ModelCheckpoint(pattern)]
    )
    loaded = models.load_model(tmp_path / "ckpt-2.fastmlp")
    assert_same_weights(loaded.get_weights(), model.get_weights())


def test_the_package_never_uses_pickle():
    root = pathlib.Path(fm.__file__).parent
    for source in root.rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        assert "import pickle" not in text and "allow_pickle=True" not in text, source


# -- atomic writes ------------------------------------------------------------------------------


def fail_after(count: int, error: BaseException) -> Callable[..., Any]:
    """A stand-in for np.lib.format.write_array that writes `count` arrays, then raises."""
    real = np.lib.format.write_array
    calls = {"n": 0}

    def write_array(*args: Any, **kwargs: Any) -> None:
        calls["n"] += 1
        if calls["n"] > count:
            raise error
        real(*args, **kwargs)

    return write_array


@pytest.mark.parametrize(
    "error",
    [OSError(28, "No space left on device"), KeyboardInterrupt()],
    ids=["disk-full", "ctrl-c"],
)
def test_a_failure_during_save_leaves_the_old_file_intact(tmp_path, monkeypatch, error):
    path = trained(tmp_path / "m.fastmlp")
    before = path.read_bytes()
    monkeypatch.setattr(np.lib.format, "write_array", fail_after(2, error))
    with pytest.raises(type(error)):
        make_model(seed=11).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.fastmlp"]  # no temporary left behind
    models.load_model(path)


def test_a_failed_rename_leaves_the_old_file_intact(tmp_path, monkeypatch):
    path = trained(tmp_path / "m.fastmlp")
    before = path.read_bytes()

    def replace(src: str, dst: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(PermissionError):
        make_model(seed=11).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.fastmlp"]


def test_save_flushes_to_disk_before_renaming(tmp_path, monkeypatch):
    events: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: (events.append("fsync"), real_fsync(fd))[1])
    monkeypatch.setattr(
        os, "replace", lambda a, b: (events.append("replace"), real_replace(a, b))[1]
    )
    make_model().save(tmp_path / "m.fastmlp")
    assert events[:2] == ["fsync", "replace"]


# -- hostile and broken files -------------------------------------------------------------------


def read_members(path: pathlib.Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def write_members(
    path: pathlib.Path, members: list[tuple[str, bytes]] | dict[str, bytes], method: int = 0
) -> pathlib.Path:
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are the point of some cases
        with zipfile.ZipFile(path, "w", compression=method) as zf:
            for name, data in items:
                zf.writestr(name, data)
    return path


def npy(arr: np.ndarray, allow_pickle: bool = False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=allow_pickle)
    return buf.getvalue()


def edit_config(members: dict[str, bytes], edit: Callable[[dict[str, Any]], None]) -> None:
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()


def patch_central(data: bytes, name: str, offset: int, fmt: str, value: int) -> bytes:
    """Overwrite a field of `name`'s central-directory record (offsets from its signature)."""
    pos = 0
    while True:
        pos = data.index(b"PK\x01\x02", pos)
        (length,) = struct.unpack_from("<H", data, pos + 28)
        if data[pos + 46 : pos + 46 + length] == name.encode():
            break
        pos += 4
    out = bytearray(data)
    struct.pack_into(fmt, out, pos + offset, value)
    return bytes(out)


def valid_file(tmp_path: pathlib.Path) -> pathlib.Path:
    return trained(tmp_path / "valid.fastmlp")


def hostile(make: Callable[[pathlib.Path, dict[str, bytes]], Any]) -> Callable[[pathlib.Path], Any]:
    """A case: start from a valid file's members, let `make` write the hostile file."""

    def build(tmp_path: pathlib.Path) -> pathlib.Path:
        src = valid_file(tmp_path)
        members = read_members(src)
        target = tmp_path / "hostile.fastmlp"
        result = make(target, members)
        if isinstance(result, bytes):
            target.write_bytes(result)
        elif result is None:
            write_members(target, members)
        return target

    return build


def _config(edit: Callable[[dict[str, Any]], None]):
    def make(target, members):
        edit_config(members, edit)

    return hostile(make)


def _member(name: str, data: Callable[[dict[str, bytes]], bytes]):
    def make(target, members):
        members[name] = data(members)

    return hostile(make)


def _raw(transform: Callable[[bytes], bytes]):
    def make(target, members):
        valid = target.parent / "valid.fastmlp"
        return transform(valid.read_bytes())

    return hostile(make)


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """An edit that sets config[k1][k2]... (keys separated by '.'; ints index lists)."""

    def edit(config: dict[str, Any]) -> None:
        keys = [int(k) if k.isdigit() else k for k in path.split(".")]
        node = config
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return edit


def _bomb(target, members):
    members["config.json"] = members["config.json"] + b" " * (40 << 20)  # 40 MB of spaces
    write_members(target, members, method=zipfile.ZIP_DEFLATED)
    return target


def _weights_bomb(target, members):
    zeros = np.zeros(4_000_000, dtype=np.float32)  # 16 MB that deflate to ~16 kB
    members["weights/0000.npy"] = npy(zeros)
    write_members(target, members, method=zipfile.ZIP_DEFLATED)
    return target


def _absurd_dense(config):
    config["model"]["layers"][1]["config"]["units"] = 10**9
    config["weights"][0]["shape"] = [FEATURES, 10**9]


def _absurd_header(members):
    data = bytearray(members["weights/0001.npy"])
    text = data[10:].split(b"\n")[0].decode()
    fake = text.replace("(8,)", "(10000000000000,)").encode()
    return (
        bytes(data[:8])
        + struct.pack("<H", len(fake) + 1)
        + fake
        + b"\n"
        + bytes(data[10 + len(text) + 1 :])
    )


def _long_header(members):
    arr = np.frombuffer(members["weights/0001.npy"][-32:], dtype="<f4")
    header = b"{'descr': '<f4', 'fortran_order': False, 'shape': (8,), }" + b" " * 100_000 + b"\n"
    return b"\x93NUMPY\x02\x00" + struct.pack("<I", len(header)) + header + arr.tobytes()


def _duplicate(target, members):
    items = [*members.items(), ("weights/0000.npy", members["weights/0000.npy"])]
    write_members(target, items)
    return target


def _many_members(data: bytes) -> bytes:
    """Declare 60,000 members in the end-of-directory record."""
    out = bytearray(data)
    end = out.rindex(b"PK\x05\x06")
    struct.pack_into("<HH", out, end + 8, 60_000, 60_000)
    return bytes(out)


def _encrypted(data: bytes) -> bytes:
    (flags,) = struct.unpack_from("<H", data, data.index(b"PK\x01\x02") + 8)
    return patch_central(data, "config.json", 8, "<H", flags | 1)


def _bzip2(target, members):
    write_members(target, members, method=zipfile.ZIP_BZIP2)
    return target


def _corrupt_weights(data: bytes) -> bytes:
    """Flip one byte inside the array data of weights/0000.npy (its CRC no longer matches)."""
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("weights/0000.npy")
    name_len, extra_len = struct.unpack_from("<HH", data, info.header_offset + 26)
    start = info.header_offset + 30 + name_len + extra_len
    out = bytearray(data)
    out[start + info.compress_size - 20] ^= 0xFF
    return bytes(out)


def _wrong_slot_count(config):
    config["optimizer"]["slots"].append(
        dict(config["optimizer"]["slots"][0], file="optimizer/0002.npy")
    )


def _add_slot(target, members):
    members["optimizer/0002.npy"] = members["optimizer/0000.npy"]
    edit_config(members, _wrong_slot_count)


def _fortran(members):
    arr = np.load(io.BytesIO(members["weights/0000.npy"]))
    return npy(np.asfortranarray(arr))


def _as_dtype(dtype: str):
    def data(members):
        arr = np.load(io.BytesIO(members["weights/0001.npy"]))
        return npy(arr.astype(dtype))

    return data


def _object_array(members):
    return npy(np.array([{"__reduce__": 1}] * 8, dtype=object), allow_pickle=True)


def _deep_json(target, members):
    members["config.json"] = b"[" * 100_000 + b"]" * 100_000


HOSTILE = {
    # not a model file at all
    "empty-file": (hostile(lambda t, m: b""), r"not a fastmlp model file"),
    "random-bytes": (hostile(lambda t, m: os.urandom(4096)), r"not a fastmlp model file"),
    "a-pickle": (hostile(lambda t, m: b"\x80\x04\x95cos\nsystem\n."), r"not a fastmlp model file"),
    "zip-without-config": (
        hostile(lambda t, m: m.pop("config.json") and None),
        r"has no config\.json",
    ),
    # truncated and corrupted
    "truncated-to-half": (_raw(lambda d: d[: len(d) // 2]), r"not a fastmlp model file"),
    "truncated-by-one-byte": (_raw(lambda d: d[:-1]), r"not a fastmlp model file"),
    "truncated-before-directory": (
        _raw(lambda d: d[: d.index(b"PK\x01\x02")] + d[-22:]),
        r"truncated|not a fastmlp|past the end",
    ),
    "corrupted-weight-bytes": (
        _raw(_corrupt_weights),
        r"member 'weights/0000\.npy' is corrupted \(Bad CRC-32",
    ),
    "config-not-json": (_member("config.json", lambda m: b"{not json"), r"unreadable config"),
    "config-not-utf8": (_member("config.json", lambda m: b"\xff\xfe{}"), r"unreadable config"),
    "config-nan": (
        _member(
            "config.json",
            lambda m: m["config.json"].replace(b'"iterations": 8', b'"iterations": NaN'),
        ),
        r"NaN is not allowed",
    ),
    "config-duplicate-keys": (
        _member("config.json", lambda m: b'{"format": "fastmlp", "format": "x"}'),
        r"duplicate keys",
    ),
    "config-deeply-nested": (hostile(_deep_json), r"unreadable config|nested"),
    "config-a-list": (_member("config.json", lambda m: b"[1, 2]"), r"no format 'fastmlp'"),
    # zip bombs and forged sizes
    "zip-bomb-config": (hostile(_bomb), r"expands from .* more than 100x \(a zip bomb\?\)"),
    "zip-bomb-weights": (hostile(_weights_bomb), r"a zip bomb\?"),
    "forged-size-stored": (
        _raw(lambda d: patch_central(d, "weights/0000.npy", 24, "<I", 0xFFFFFFF0)),
        r"inconsistent sizes",
    ),
    "forged-sizes-past-end": (
        _raw(
            lambda d: patch_central(
                patch_central(d, "weights/0000.npy", 24, "<I", 0xFFFFFFF0),
                "weights/0000.npy",
                20,
                "<I",
                0xFFFFFFF0,
            )
        ),
        r"extends past the end of the file",
    ),
    "encrypted-member": (_raw(_encrypted), r"encrypted member"),
    "sixty-thousand-members": (_raw(_many_members), r"has 60000 members in a directory of"),
    "huge-central-directory": (
        _raw(lambda d: d[:-10] + struct.pack("<I", 9 << 20) + d[-6:]),
        r"directory of 9437184 bytes, more than 50000 members or 8388608 bytes",
    ),
    "bzip2-member": (hostile(_bzip2), r"unsupported compression method"),
    # member names
    "extra-member": (
        _member("notes.txt", lambda m: b"hello"),
        r"unexpected member 'notes\.txt'",
    ),
    "extra-weight-member": (
        _member("weights/0099.npy", lambda m: m["weights/0000.npy"]),
        r"members the config does not list: \['weights/0099\.npy'\]",
    ),
    "dot-dot-name": (_member("../evil.npy", lambda m: b"x"), r"path leaves the archive"),
    "nested-dot-dot-name": (
        _member("weights/../../evil.npy", lambda m: b"x"),
        r"path leaves the archive",
    ),
    "absolute-name": (_member("/etc/evil.npy", lambda m: b"x"), r"absolute"),
    "windows-name": (_member("C:\\evil.npy", lambda m: b"x"), r"absolute or Windows"),
    "duplicate-member": (hostile(_duplicate), r"has the member 'weights/0000\.npy' twice"),
    "missing-weight-member": (
        hostile(lambda t, m: m.pop("weights/0002.npy") and None),
        r"missing the member 'weights/0002\.npy'",
    ),
    # format and version
    "wrong-format-name": (_config(_set("format", "keras")), r"no format 'fastmlp'"),
    "version-2": (_config(_set("version", 2)), r"format version 2; this fastmlp reads version 1"),
    "version-string": (_config(_set("version", "1")), r"format version '1'"),
    "version-true": (_config(_set("version", True)), r"format version True"),
    "unknown-kind": (_config(_set("kind", "pickle")), r"unknown kind 'pickle'"),
    "model-not-an-object": (
        _config(_set("model", [])),
        r"config entry 'model' that is not an object: list",
    ),
    "weights-not-a-list": (
        _config(_set("weights", {"a": 1})),
        r"config entry 'weights' that is not a list: dict",
    ),
    # the config against the arrays
    "absurd-dense-units": (_config(_absurd_dense), r"holds \d+ bytes, but an array of shape"),
    "absurd-npy-header-shape": (
        _member("weights/0001.npy", _absurd_header),
        r"has shape \(10000000000000,\), the config implies \(8,\)",
    ),
    "huge-npy-header": (_member("weights/0001.npy", _long_header), r"holds \d+ bytes"),
    "config-units-differ-from-weights": (
        _config(_set("model.layers.1.config.units", 7)),
        r"shape \[5, 8\], the config implies \[5, 7\]",
    ),
    "manifest-shape-differs": (
        _config(_set("weights.1.shape", [9])),
        r"lists 'weights/0001\.npy' with shape \[9\], the config implies \[8\]",
    ),
    "manifest-too-few-arrays": (
        _config(lambda c: c["weights"].pop()),
        r"lists 3 weights arrays, the config implies 4",
    ),
    "unknown-layer-class": (
        _config(_set("model.layers.1.class_name", "Lambda")),
        r"invalid config: .*Unknown layer class 'Lambda'",
    ),
    "layer-config-with-code": (
        _config(_set("model.layers.1.config.function", "__import__('os').system('x')")),
        r"invalid config: TypeError: .*unexpected arguments",
    ),
    "layers-not-a-list": (_config(_set("model.layers", 3)), r"invalid config"),
    "model-dtype-object": (_config(_set("model.dtype", "object")), r"invalid config: .*dtype"),
    "unknown-optimizer": (
        _config(_set("compile.optimizer.class_name", "EvilOptimizer")),
        r"Unknown optimizer class 'EvilOptimizer'",
    ),
    "optimizer-bad-argument": (
        _config(_set("compile.optimizer.config.learning_rate", "fast")),
        r"invalid config: TypeError: learning_rate must be a number",
    ),
    "unknown-loss": (
        _config(_set("compile.loss.class_name", "function")),
        r"Unknown loss class 'function'",
    ),
    "unknown-metric": (
        _config(_set("compile.metrics.0.class_name", "Evil")),
        r"unknown metric class 'Evil'",
    ),
    # arrays
    "dtype-int64": (_member("weights/0001.npy", _as_dtype("<i8")), r"has dtype '<i8'"),
    "dtype-float16": (_member("weights/0001.npy", _as_dtype("<f2")), r"has dtype|holds \d+ bytes"),
    "dtype-big-endian": (_member("weights/0001.npy", _as_dtype(">f4")), r"has dtype '>f4'"),
    "dtype-complex": (_member("weights/0001.npy", _as_dtype("<c8")), r"holds \d+ bytes|dtype"),
    "object-array": (_member("weights/0001.npy", _object_array), r"holds \d+ bytes|dtype '\|O'"),
    "manifest-dtype-object": (_config(_set("weights.1.dtype", "object")), r"with dtype 'object'"),
    "fortran-order": (_member("weights/0000.npy", _fortran), r"in Fortran order"),
    "not-an-npy": (
        _member("weights/0001.npy", lambda m: b"x" * len(m["weights/0001.npy"])),
        r"not a valid \.npy",
    ),
    # optimizer and generator state
    "extra-optimizer-slot": (hostile(_add_slot), r"expected 2 slot arrays, got 3"),
    "negative-iterations": (
        _config(_set("optimizer.iterations", -1)),
        r"invalid optimizer iterations: expected an integer in \[0, \d+\), got -1",
    ),
    "slot-shape-differs": (
        _config(_set("optimizer.slots.0.shape", [3])),
        r"with shape \[3\], the config implies \[\d+\]",
    ),
    "rng-state-zero": (_config(_set("rng_state", [0, 0, 0, 0])), r"invalid rng_state: all zero"),
    "rng-state-short": (
        _config(_set("rng_state", [1, 2])),
        r"invalid rng_state: expected a list of 4 integers",
    ),
    "rng-state-too-big": (
        _config(_set("rng_state", [2**64, 1, 1, 1])),
        r"invalid rng_state: expected an integer",
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_file_gives_a_clear_error_without_unbounded_allocation(tmp_path, case):
    make, match = HOSTILE[case]
    path = make(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ValueError, match=match) as info:
            models.load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "hostile.fastmlp" in str(info.value)  # the message names the file
    # The valid file is ~2 kB; a bounded read of the 40 MB and 16 MB bombs stays far below them.
    assert peak < 8 << 20, f"{case}: peak allocation {peak} bytes"


def test_hostile_file_leaves_a_model_unchanged_in_load_weights(tmp_path):
    path = HOSTILE["dtype-big-endian"][0](tmp_path)
    model = make_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"has dtype '>f4'"):
        model.load_weights(path)
    assert_same_weights(model.get_weights(), before)


def test_a_diverged_model_saves_loads_and_pickles_with_a_warning(tmp_path):
    # NaN weights and NaN Adam moments (a regression with a rate of 1e10) are what the model
    # is: a file of it loads again (Keras's does), with a warning, and keeps its state.
    def regression() -> fm.Sequential:
        model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Dense(8), layers.Dense(1)])
        model.compile(optimizer=optimizers.Adam(1e10), loss="mse")
        return model

    model = regression()
    model.fit(X, X[:, 0] * 1e3, epochs=3, batch_size=16, verbose=0)
    weights = model.get_weights()
    assert not all(np.isfinite(w).all() for w in weights)
    path = tmp_path / "diverged.fastmlp"
    model.save(path)
    match = r"contain NaN or infinity \(training diverged"
    with pytest.warns(RuntimeWarning, match=match):
        loaded = models.load_model(path)
    with pytest.warns(RuntimeWarning, match=match):
        unpickled = pickle.loads(pickle.dumps(model))
    copied = regression()
    copied.build((None, FEATURES))
    with pytest.warns(RuntimeWarning, match=match):
        copied.load_weights(path)
    for other in (loaded, unpickled, copied):
        assert_same_weights(other.get_weights(), weights)
    _, slots, _ = model._engine.get_optimizer_state()
    _, loaded_slots, _ = loaded._engine.get_optimizer_state()
    assert any(not np.isfinite(s).all() for s in slots)
    assert_same_weights(list(loaded_slots), list(slots))


def test_a_missing_file_is_a_file_not_found_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        models.load_model(tmp_path / "nope.fastmlp")


def test_save_refuses_a_non_model():
    with pytest.raises(TypeError, match="model must be a fastmlp Sequential model, got dict"):
        saving.save_model({}, "x.fastmlp")


# -- special paths ------------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
def test_saving_through_a_symbolic_link_updates_its_target_and_keeps_the_link(tmp_path):
    target = trained(tmp_path / "v1.fastmlp")
    link = tmp_path / "latest.fastmlp"
    link.symlink_to(target.name)
    model = make_model(seed=9)
    model.save(link)
    assert link.is_symlink() and os.readlink(link) == target.name
    assert_same_weights(models.load_model(target).get_weights(), model.get_weights())


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_is_neither_replaced_by_save_nor_read_by_load(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(ValueError, match="exists and is not a regular file"):
        make_model().save(fifo)
    assert stat.S_ISFIFO(os.stat(fifo).st_mode)
    # Without the check, open() would wait for a writer: one comes after 5 s to end the test.
    rescue = threading.Timer(5.0, lambda: open(fifo, "wb").close())
    rescue.start()
    try:
        with pytest.raises(ValueError, match="is not a regular file"):
            models.load_model(fifo)
    finally:
        rescue.cancel()
        rescue.join()


# -- pickle and copy ----------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copied_model_predicts_and_trains_on_exactly_as_the_original(how):
    original = make_model()
    original.fit(X, Y, epochs=2, batch_size=16, verbose=0)
    twin = copy.deepcopy(original) if how == "deepcopy" else pickle.loads(pickle.dumps(original))
    assert twin._engine is not original._engine
    np.testing.assert_array_equal(twin.predict(X, verbose=0), original.predict(X, verbose=0))
    # Same optimizer state and shuffling/dropout generator: the next epochs agree bit for bit.
    a = twin.fit(X, Y, epochs=2, batch_size=16, verbose=0).history
    b = original.fit(X, Y, epochs=2, batch_size=16, verbose=0).history
    assert a == b
    assert_same_weights(twin.get_weights(), original.get_weights())
    twin.fit(X, Y, epochs=1, batch_size=16, verbose=0)  # the original does not move with it
    assert not np.array_equal(twin.get_weights()[0], original.get_weights()[0])


def test_unbuilt_models_and_optimizers_copy_and_a_shallow_copy_shares_the_engine():
    unbuilt = fm.Sequential([layers.Dense(4, activation="relu"), layers.Dense(2)])
    assert [type(layer) for layer in copy.deepcopy(unbuilt).layers] == [layers.Dense] * 2
    model = make_model()
    model.fit(X, Y, epochs=1, batch_size=16, verbose=0)
    optimizer = pickle.loads(pickle.dumps(model.optimizer))
    assert optimizer.get_config() == model.optimizer.get_config()
    assert optimizer.iterations == 0  # detached from the model's engine
    assert copy.copy(model)._engine is model._engine  # as Keras: a shallow copy shares variables


def test_the_sign_rule_of_plus_minus_one_labels_survives_copies_and_files(tmp_path):
    # Trained on {-1, +1} labels, a regression loss's accuracy counts signs, also on a set of
    # +1 points alone; copies, files and a one-class train_on_batch keep that rule.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, FEATURES))
    y = np.where(x[:, 0] + 0.3 * rng.normal(size=200) > 0, 1.0, -1.0).reshape(-1, 1)
    model = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(1, activation="tanh")], dtype="float64"
    )
    model.compile(optimizers.SGD(0.1), "mse", metrics=["accuracy"])
    model.fit(x, y, epochs=5, batch_size=20, verbose=0)
    positive = y[:, 0] > 0
    expected = float(np.mean(model.predict(x[positive], verbose=0) > 0))
    assert expected != float(np.mean(model.predict(x[positive], verbose=0) > 0.5))
    model.save(tmp_path / "m.fastmlp")
    copies = [
        copy.deepcopy(model),
        pickle.loads(pickle.dumps(model)),
        models.load_model(tmp_path / "m.fastmlp"),
    ]
    for m in [model, *copies]:
        logs = m.evaluate(x[positive], y[positive], verbose=0, return_dict=True)
        assert logs["accuracy"] == pytest.approx(expected)
    model.optimizer.learning_rate = 0.0
    model.train_on_batch(x[positive][:8], y[positive][:8])  # one class: the rule stays
    logs = model.evaluate(x[positive], y[positive], verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(expected)


def test_copies_stay_on_the_models_device():
    original = make_model()
    numpy_engine = fm.Sequential(
        [layers.Input(shape=(FEATURES,)), layers.Dense(CLASSES, activation="softmax")],
        device="numpy",
    )
    numpy_engine.compile("adam", "sparse_categorical_crossentropy")
    numpy_engine.fit(X, Y, epochs=1, verbose=0)
    for m in (original, numpy_engine):
        twin = pickle.loads(pickle.dumps(m))
        assert twin.device == m.device and type(twin._engine) is type(m._engine)
        a = twin.fit(X, Y, epochs=1, batch_size=16, verbose=0).history
        b = m.fit(X, Y, epochs=1, batch_size=16, verbose=0).history
        assert a == b


def test_a_model_without_parameters_saves_loads_and_copies(tmp_path):
    model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Activation("relu")])
    model.compile("adam", "mse")
    with pytest.warns(UserWarning, match="trainable weights"):
        model.fit(X, np.maximum(X, 0), epochs=1, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    for twin in (models.load_model(tmp_path / "m.fastmlp"), copy.deepcopy(model)):
        np.testing.assert_array_equal(twin.predict(X, verbose=0), np.maximum(X, 0))


def test_files_of_earlier_versions_with_empty_optimizer_slots_load(tmp_path):
    # A model without parameters trained with Adam was saved with two empty slot arrays.
    model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Activation("relu")])
    model.compile("adam", "mse")
    config, members = saving._model_archive(model, include_optimizer=True)
    config["optimizer"] = {"iterations": 3, "slots": []}
    members += saving._array_members(
        config["optimizer"]["slots"], "optimizer", [np.zeros(0, np.float32)] * 2
    )
    saving._write_archive(tmp_path / "old.fastmlp", config, members, overwrite=True)
    loaded = models.load_model(tmp_path / "old.fastmlp")
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), np.maximum(X, 0))


def test_a_bad_device_is_reported_as_the_callers_before_the_file_is_read(tmp_path):
    with pytest.raises(ValueError, match="device") as info:
        models.load_model(tmp_path / "missing.fastmlp", device="tpu")
    assert "cannot load" not in str(info.value)


def test_a_pickled_model_whose_device_is_missing_here_loads_on_the_default_one():
    from fastmlp.backend import gpu

    if gpu.is_available():
        pytest.skip("a GPU is available here")
    data = saving.model_bytes(make_model())
    with pytest.warns(RuntimeWarning, match="is loaded on the default device"):
        twin = saving.model_from_bytes(data, "gpu")
    assert twin.device == "cpu"


def test_the_sign_rule_is_kept_by_a_load_without_compile(tmp_path):
    rng = np.random.default_rng(6)
    x = rng.normal(size=(100, FEATURES))
    y = np.where(x[:, :1] > 0, 1.0, -1.0)
    model = fm.Sequential([layers.Input(shape=(FEATURES,)), layers.Dense(1, activation="tanh")])
    model.compile(optimizers.SGD(0.1), "mse", metrics=["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.fastmlp")
    loaded = models.load_model(tmp_path / "m.fastmlp", compile=False)
    loaded.compile(optimizers.SGD(0.1), "mse", metrics=["accuracy"])
    positive = y[:, 0] > 0
    p = loaded.predict(x[positive], verbose=0)
    assert np.mean(p > 0) != np.mean(p > 0.5)  # the two rules differ on these points
    logs = loaded.evaluate(x[positive], y[positive], verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(float(np.mean(p > 0)))


KERAS_SAVE = """
import sys
model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
model.save(sys.argv[1])
model.save(sys.argv[2])
model.save_weights(sys.argv[3])
"""


def test_keras_files_are_refused_with_what_they_are(tmp_path):
    from keras_run import run_keras

    names = [str(tmp_path / n) for n in ("m.keras", "m.h5", "m.weights.h5")]
    run_keras(KERAS_SAVE, *names)
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    for name, kind in zip(names, ("Keras 3 .keras file", "HDF5 file", "HDF5 file")):
        with pytest.raises(ValueError, match=kind) as info:
            models.load_model(name)
        assert "set_weights(keras_model.get_weights())" in str(info.value)
        with pytest.raises(ValueError, match=kind):
            model.load_weights(name)


@pytest.mark.parametrize("name", ["m.keras", "m.h5", "best.weights.h5"])
def test_saving_under_a_keras_name_warns_that_the_file_is_fastmlps(tmp_path, name):
    model = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])
    save = model.save_weights if "weights" in name else model.save
    with pytest.warns(UserWarning, match="not a Keras file") as caught:
        save(tmp_path / name)
    assert caught[0].filename == __file__
    loaded = fm.Sequential([layers.Input(shape=(3,)), layers.Dense(2)])  # written all the same
    loaded.load_weights(tmp_path / name)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
