"""Tests for fastmlp.datasets: IDX parsing, checksums, lookup order, download and the real files.

No test touches the network: downloads come from file:// mirrors written under tmp_path.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import struct
import time
import tracemalloc
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from fastmlp.datasets import DatasetError, DatasetNotFoundError, _idx, fashion_mnist, mnist

FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)
# Read before the autouse fixture below clears it, so only the real-data tests see it.
REAL_DATA = os.environ.get("FASTMLP_DATA")


@pytest.fixture(autouse=True)
def isolated(monkeypatch, tmp_path):
    """Every test gets its own cache, no FASTMLP_DATA and no mirrors: nothing can reach out."""
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "fastmlp-cache"))
    monkeypatch.delenv("FASTMLP_DATA", raising=False)
    monkeypatch.setattr(mnist, "MIRRORS", ())
    monkeypatch.setattr(fashion_mnist, "MIRRORS", ())


def idx_bytes(array: np.ndarray) -> bytes:
    """The IDX encoding of a uint8 array, written independently of the parser under test."""
    header = bytes([0, 0, 0x08, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(np.uint8).tobytes()


def make_dataset(n_train: int = 5, n_test: int = 3, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, n_train, dtype=np.uint8),
        FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_dataset(folder: Path, arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Writes each array as a gzip IDX file into `folder`; returns the files' SHA-256 sums."""
    folder.mkdir(parents=True, exist_ok=True)
    sums = {}
    for name, array in arrays.items():
        data = gzip.compress(idx_bytes(array), mtime=0)
        (folder / name).write_bytes(data)
        sums[name] = hashlib.sha256(data).hexdigest()
    return sums


def assert_dataset_equal(loaded, arrays: dict[str, np.ndarray]) -> None:
    (x_train, y_train), (x_test, y_test) = loaded
    for got, name in zip((x_train, y_train, x_test, y_test), FILES):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, arrays[name])


# --- read_idx ---------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
@pytest.mark.parametrize("from_file", [False, True], ids=["bytes", "file"])
@pytest.mark.parametrize("shape", [(7,), (4, 28, 28), (2, 3, 5)])
def test_read_idx_round_trips(tmp_path, compress, from_file, shape):
    array = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    data = idx_bytes(array)
    if compress:
        data = gzip.compress(data)
    source = data
    if from_file:
        source = tmp_path / "x-idx-ubyte"
        source.write_bytes(data)
    got = _idx.read_idx(source)
    assert got.dtype == np.uint8
    assert got.shape == shape
    assert got.flags.writeable
    np.testing.assert_array_equal(got, array)


def test_read_idx_accepts_empty_payload():
    got = _idx.read_idx(idx_bytes(np.zeros((0, 28, 28), np.uint8)), ndim=3)
    assert got.shape == (0, 28, 28)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_rejects_truncated_payload(compress):
    data = idx_bytes(np.ones((3, 28, 28), np.uint8))[:-1]
    data = gzip.compress(data) if compress else data
    with pytest.raises(DatasetError, match=r"truncated.*2352 bytes of data, file holds only 2351"):
        _idx.read_idx(data, name="images.gz")


@pytest.mark.parametrize("cut", [3, 6, 10])
def test_read_idx_rejects_truncated_header(cut):
    data = idx_bytes(np.ones((3, 28, 28), np.uint8))[:cut]
    with pytest.raises(DatasetError, match="truncated: file ends inside"):
        _idx.read_idx(data)


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gzip"])
def test_read_idx_rejects_overlong_payload(tmp_path, compress):
    data = idx_bytes(np.ones(10, np.uint8)) + b"\x00"
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(data) if compress else data)
    with pytest.raises(DatasetError, match="over-long") as info:
        _idx.read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("header", "ndim", "message"),
    [
        (b"PK\x03\x04", None, "not an IDX file: magic number 0x504B0304"),
        (b"\x00\x00\x0d\x01", None, "unsupported IDX element type 0x0D"),
        (b"\x00\x00\x08\x01", 3, r"expected magic number 0x00000803 .*got 0x00000801"),
        (b"\x00\x00\x08\x03", 1, r"expected magic number 0x00000801 .*got 0x00000803"),
        (b"\x00\x00\x08\x00", None, "dimension count 0"),
        (b"\x00\x00\x08\x09", None, "dimension count 9"),
    ],
)
def test_read_idx_rejects_wrong_magic(header, ndim, message):
    data = header + struct.pack(">3I", 1, 1, 1) + b"\x00"
    with pytest.raises(DatasetError, match=message):
        _idx.read_idx(data, ndim=ndim)


def test_read_idx_rejects_huge_declared_shape_without_allocating():
    data = b"\x00\x00\x08\x03" + struct.pack(">3I", 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + b"\x00"
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(DatasetError, match="over the limit"):
            _idx.read_idx(gzip.compress(data))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert time.perf_counter() - start < 1.0


def test_read_idx_enforces_payload_limit_exactly(monkeypatch):
    monkeypatch.setattr(_idx, "MAX_PAYLOAD_BYTES", 100)
    assert _idx.read_idx(idx_bytes(np.ones((4, 25), np.uint8))).shape == (4, 25)
    with pytest.raises(DatasetError, match="101 bytes, over the limit of 100"):
        _idx.read_idx(idx_bytes(np.ones(101, np.uint8)))


def _bad_crc(gz: bytes) -> bytes:
    return gz[:-8] + bytes([gz[-8] ^ 0xFF]) + gz[-7:]  # the trailer is CRC32 then ISIZE


@pytest.mark.parametrize(
    "corrupt",
    [_bad_crc, lambda gz: gz[: len(gz) // 2], lambda gz: gz[:2] + b"\x00" * 30],
    ids=["bad-crc", "truncated-stream", "garbage-after-magic"],
)
def test_read_idx_rejects_corrupt_gzip(tmp_path, corrupt):
    gz = gzip.compress(idx_bytes(np.arange(2000, dtype=np.uint8).reshape(2000 // 4, 4) % 7))
    path = tmp_path / "broken.gz"
    path.write_bytes(corrupt(gz))
    with pytest.raises(DatasetError, match="corrupt gzip data") as info:
        _idx.read_idx(path)
    assert str(path) in str(info.value)


# --- load_from_folder -------------------------------------------------------------------------


def test_load_from_folder_returns_keras_layout(tmp_path):
    arrays = make_dataset()
    write_dataset(tmp_path, arrays)
    (x_train, y_train), (x_test, y_test) = _idx.load_from_folder(tmp_path)
    assert (x_train.shape, y_train.shape, x_test.shape, y_test.shape) == (
        (5, 28, 28),
        (5,),
        (3, 28, 28),
        (3,),
    )
    assert_dataset_equal(((x_train, y_train), (x_test, y_test)), arrays)


def test_load_from_folder_verifies_checksums(tmp_path):
    arrays = make_dataset()
    sums = write_dataset(tmp_path, arrays)
    assert_dataset_equal(_idx.load_from_folder(tmp_path, sums), arrays)
    wrong = dict(sums, **{FILES[3]: "0" * 64})
    with pytest.raises(DatasetError, match="SHA-256 mismatch") as info:
        _idx.load_from_folder(tmp_path, wrong)
    message = str(info.value)
    assert str(tmp_path / FILES[3]) in message
    assert "0" * 64 in message
    assert sums[FILES[3]] in message


def test_load_from_folder_rejects_mismatched_counts(tmp_path):
    arrays = make_dataset()
    arrays[FILES[1]] = arrays[FILES[1]][:4]
    write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match=r"holds 5 images but .* holds 4 labels"):
        _idx.load_from_folder(tmp_path)


def test_load_from_folder_rejects_images_in_place_of_labels(tmp_path):
    arrays = make_dataset()
    arrays[FILES[3]] = arrays[FILES[2]]
    write_dataset(tmp_path, arrays)
    with pytest.raises(DatasetError, match=r"t10k-labels.*expected magic number 0x00000801"):
        _idx.load_from_folder(tmp_path)


def test_load_from_folder_lists_missing_files(tmp_path):
    write_dataset(tmp_path, {FILES[0]: make_dataset()[FILES[0]]})
    with pytest.raises(DatasetNotFoundError, match="3 of the 4") as info:
        _idx.load_from_folder(tmp_path)
    assert all(name in str(info.value) for name in FILES[1:])
    assert isinstance(info.value, FileNotFoundError)


# --- load_data: lookup order, checksums, errors -----------------------------------------------


@pytest.mark.parametrize("module", [mnist, fashion_mnist], ids=["mnist", "fashion_mnist"])
def test_load_data_path_argument_checks_the_known_sums(tmp_path, monkeypatch, module):
    arrays = make_dataset()
    sums = write_dataset(tmp_path / "mine", arrays)
    with pytest.raises(DatasetError, match="SHA-256 mismatch"):
        module.load_data(path=tmp_path / "mine")
    monkeypatch.setattr(module, "SHA256SUMS", sums)
    assert_dataset_equal(module.load_data(path=str(tmp_path / "mine")), arrays)


def test_mnist_load_data_takes_keras_npz_paths(tmp_path, monkeypatch):
    # Keras's load_data(path="mnist.npz"): an existing npz is read; a name that is no file is
    # Keras's cache name, and the usual search runs.
    arrays = make_dataset()
    keys = ("x_train", "y_train", "x_test", "y_test")
    np.savez(tmp_path / "mine.npz", **dict(zip(keys, (arrays[f] for f in FILES))))
    assert_dataset_equal(mnist.load_data(path=tmp_path / "mine.npz"), arrays)
    sums = write_dataset(tmp_path / "data" / "mnist", arrays)
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(mnist, "SHA256SUMS", sums)
    assert_dataset_equal(mnist.load_data(path="mnist.npz"), arrays)
    bad = dict(zip(keys, (arrays[f] for f in FILES)))
    bad["y_test"] = bad["y_test"] + 10
    np.savez(tmp_path / "bad.npz", **bad)
    with pytest.raises(DatasetError, match="y_test must hold one label 0-9 per image"):
        mnist.load_data(path=tmp_path / "bad.npz")
    np.savez(tmp_path / "other.npz", images=arrays[FILES[0]])
    with pytest.raises(DatasetError, match="not an npz file with x_train"):
        mnist.load_data(path=tmp_path / "other.npz")


def test_load_data_looks_in_fastmlp_data_then_cache(tmp_path, monkeypatch):
    arrays = make_dataset()
    sums = write_dataset(tmp_path / "data" / "mnist", {k: arrays[k] for k in FILES[:2]})
    sums.update(write_dataset(_idx.cache_dir("mnist"), {k: arrays[k] for k in FILES[2:]}))
    # A different training set in the cache: loading it instead would fail its checksum.
    write_dataset(_idx.cache_dir("mnist"), {k: make_dataset(seed=9)[k] for k in FILES[:2]})
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(mnist, "SHA256SUMS", sums)
    assert_dataset_equal(mnist.load_data(), arrays)


def test_load_data_rejects_corrupt_file_rather_than_downloading(tmp_path, monkeypatch):
    arrays = make_dataset()
    sums = write_dataset(tmp_path / "mirror", arrays)
    write_dataset(tmp_path / "data" / "fashion-mnist", make_dataset(seed=5))
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(fashion_mnist, "SHA256SUMS", sums)
    monkeypatch.setattr(fashion_mnist, "MIRRORS", ((tmp_path / "mirror").as_uri() + "/",))
    with pytest.raises(DatasetError, match="SHA-256 mismatch") as info:
        fashion_mnist.load_data()
    assert str(tmp_path / "data" / "fashion-mnist" / FILES[0]) in str(info.value)
    assert not _idx.cache_dir("fashion-mnist").exists()


def test_load_data_offline_raises_one_error_saying_where_to_put_files(tmp_path, monkeypatch):
    mirrors = ((tmp_path / "gone1").as_uri() + "/", (tmp_path / "gone2").as_uri() + "/")
    monkeypatch.setenv("FASTMLP_DATA", str(tmp_path / "data"))
    monkeypatch.setattr(mnist, "MIRRORS", mirrors)
    with pytest.raises(DatasetNotFoundError) as info:
        mnist.load_data()
    message = str(info.value)
    assert isinstance(info.value, FileNotFoundError)
    assert all(name in message for name in FILES)
    assert "FASTMLP_DATA" in message
    assert str(tmp_path / "data" / "mnist") in message
    assert str(_idx.cache_dir("mnist")) in message
    assert "load_data(path=" in message
    assert all(url + FILES[0] in message for url in mirrors)
    assert not list(_idx.cache_dir("mnist").glob("*"))


def test_load_data_without_mirrors_or_fastmlp_data_says_so():
    with pytest.raises(DatasetNotFoundError, match=r"(?s)\$FASTMLP_DATA \(not set\).*no download"):
        fashion_mnist.load_data()


def test_cache_dir_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FASTMLP_CACHE", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "b"))
    assert _idx.cache_dir("mnist") == tmp_path / "a" / "datasets" / "mnist"
    monkeypatch.delenv("FASTMLP_CACHE")
    assert _idx.cache_dir("mnist") == tmp_path / "b" / "fastmlp" / "datasets" / "mnist"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("USERPROFILE", str(tmp_path / "home"))  # Path.home() on Windows
    expected = tmp_path / "home" / ".cache" / "fastmlp" / "datasets" / "fashion-mnist"
    assert _idx.cache_dir("fashion-mnist") == expected


# --- load_data: downloads from file:// mirrors ------------------------------------------------


def test_load_data_downloads_into_cache_from_first_working_mirror(tmp_path, monkeypatch, capsys):
    arrays = make_dataset()
    sums = write_dataset(tmp_path / "mirror", arrays)
    mirrors = ((tmp_path / "gone").as_uri() + "/", (tmp_path / "mirror").as_uri() + "/")
    monkeypatch.setattr(mnist, "SHA256SUMS", sums)
    monkeypatch.setattr(mnist, "MIRRORS", mirrors)
    assert_dataset_equal(mnist.load_data(), arrays)
    cache = _idx.cache_dir("mnist")
    assert sorted(p.name for p in cache.iterdir()) == sorted(FILES)
    err = capsys.readouterr().err
    assert all(name in err for name in FILES)
    assert "100%" in err
    # The second load finds everything in the cache.
    monkeypatch.setattr(mnist, "MIRRORS", ())
    assert_dataset_equal(mnist.load_data(), arrays)


def test_download_with_wrong_checksum_leaves_nothing_in_cache(tmp_path, monkeypatch):
    sums = write_dataset(tmp_path / "mirror", make_dataset())
    write_dataset(tmp_path / "tampered", make_dataset(seed=3))
    monkeypatch.setattr(mnist, "SHA256SUMS", sums)
    monkeypatch.setattr(mnist, "MIRRORS", ((tmp_path / "tampered").as_uri() + "/",))
    with pytest.raises(DatasetNotFoundError, match="SHA-256 mismatch"):
        mnist.load_data()
    assert list(_idx.cache_dir("mnist").iterdir()) == []


class _DroppedConnection(io.BytesIO):
    """A response that sends a few bytes, then fails like a reset connection."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": "100000"}

    def read(self, size=-1):
        data = super().read(size)
        if not data:
            raise ConnectionResetError("connection reset by peer")
        return data


def test_download_failing_midway_leaves_no_partial_file(tmp_path, monkeypatch):
    arrays = make_dataset()
    sums = write_dataset(tmp_path / "mirror", arrays)
    flaky, good = "https://flaky.invalid/", (tmp_path / "mirror").as_uri() + "/"
    real_urlopen = urllib.request.urlopen
    seen = []

    def urlopen(request, timeout=None):
        if request.full_url.startswith(flaky):
            seen.append(sorted(p.name for p in _idx.cache_dir("mnist").iterdir()))
            return _DroppedConnection(b"\x1f\x8b" + b"\x00" * 500)
        return real_urlopen(request, timeout=timeout)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    monkeypatch.setattr(mnist, "SHA256SUMS", sums)
    monkeypatch.setattr(mnist, "MIRRORS", (flaky,))
    with pytest.raises(DatasetNotFoundError, match="connection reset by peer"):
        mnist.load_data()
    assert list(_idx.cache_dir("mnist").iterdir()) == []
    assert seen[0][0].endswith(".part")  # the download did go to a temporary file

    monkeypatch.setattr(mnist, "MIRRORS", (flaky, good))
    assert_dataset_equal(mnist.load_data(), arrays)
    assert sorted(p.name for p in _idx.cache_dir("mnist").iterdir()) == sorted(FILES)


# --- the real files ---------------------------------------------------------------------------


def real_data(monkeypatch, name: str) -> None:
    if not REAL_DATA or not (Path(REAL_DATA) / name).is_dir():
        pytest.skip(f"set FASTMLP_DATA to a folder holding {name}/ with the four IDX files")
    monkeypatch.setenv("FASTMLP_DATA", REAL_DATA)


def check_keras_layout(x_train, y_train, x_test, y_test) -> None:
    assert (x_train.shape, y_train.shape) == ((60000, 28, 28), (60000,))
    assert (x_test.shape, y_test.shape) == ((10000, 28, 28), (10000,))
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    assert y_train.max() == 9 and y_test.max() == 9
    assert x_train.max() == 255 and x_train.min() == 0


def test_mnist_real_data(monkeypatch):
    real_data(monkeypatch, "mnist")
    (x_train, y_train), (x_test, y_test) = mnist.load_data()
    check_keras_layout(x_train, y_train, x_test, y_test)
    assert y_train[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    train_counts = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert np.bincount(y_train, minlength=10).tolist() == train_counts
    test_counts = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    assert np.bincount(y_test, minlength=10).tolist() == test_counts


def test_fashion_mnist_real_data(monkeypatch):
    real_data(monkeypatch, "fashion-mnist")
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    check_keras_layout(x_train, y_train, x_test, y_test)
    assert y_train[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert fashion_mnist.CLASS_NAMES[y_train[0]] == "Ankle boot"
    assert np.bincount(y_train, minlength=10).tolist() == [6000] * 10
    assert np.bincount(y_test, minlength=10).tolist() == [1000] * 10
