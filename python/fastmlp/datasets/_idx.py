"""IDX files for the MNIST family: parse, verify, locate, download and cache them.

IDX (LeCun's format, big-endian): two zero bytes, an element-type byte (0x08 = unsigned byte), a
dimension-count byte, one uint32 per dimension, then the elements in row-major order. Labels start
with magic 0x00000801 (one dimension), images with 0x00000803 (count, rows, cols).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import os
import struct
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import BinaryIO, Union

import numpy as np

Split = tuple[np.ndarray, np.ndarray]
Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]

# (split, images file, labels file), the names every MNIST-family mirror uses.
SPLITS = (
    ("train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    ("test", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
)
FILES = tuple(name for _, images, labels in SPLITS for name in (images, labels))

# Sanity bounds so a hostile header or file cannot make us allocate or write without limit; the
# largest MNIST-family payload is 47 MB (60,000 x 28 x 28).
MAX_PAYLOAD_BYTES = 1 << 30
MAX_NDIM = 4
_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


class DatasetError(ValueError):
    """A dataset file is corrupt: bad checksum, bad IDX header, wrong length or broken gzip."""


class DatasetNotFoundError(FileNotFoundError):
    """The dataset files are nowhere on disk and could not be downloaded."""


def read_idx(source: Source, *, ndim: int | None = None, name: str | None = None) -> np.ndarray:
    """Parses one IDX file of unsigned bytes, raw or gzip-compressed, into a NumPy array.

    Gzip data is recognised by its magic bytes, so `foo-idx3-ubyte` and `foo-idx3-ubyte.gz` both
    work. The payload must hold exactly the number of elements the header declares.

    Args:
        source: the file's path, or its contents as bytes.
        ndim: the number of dimensions the file must have (1 for labels, 3 for images), or None
            to accept any from 1 to `MAX_NDIM`. Defaults to None.
        name: what to call the file in error messages. Defaults to the path, or "<bytes>".

    Returns:
        A writable uint8 array whose shape is the dimensions in the header.

    Raises:
        DatasetError: bad magic number, unsupported element type, wrong dimension count, a
            declared size over `MAX_PAYLOAD_BYTES`, a truncated or over-long payload, or corrupt
            gzip data.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        if data[:2] == _GZIP_MAGIC:
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
                return _parse_gzip(stream, ndim, name or "<bytes>")
        return _parse(io.BytesIO(data), ndim, name or "<bytes>")
    name = name or os.fspath(source)
    with open(source, "rb") as raw:
        if raw.read(2) == _GZIP_MAGIC:
            raw.seek(0)
            with gzip.GzipFile(fileobj=raw) as stream:
                return _parse_gzip(stream, ndim, name)
        raw.seek(0)
        return _parse(raw, ndim, name)


def _parse_gzip(stream: BinaryIO, ndim: int | None, name: str) -> np.ndarray:
    # A bad CRC raises BadGzipFile (an OSError), a cut stream EOFError, mangled deflate data
    # zlib.error: all three mean the file is corrupt.
    try:
        return _parse(stream, ndim, name)
    except (OSError, EOFError, zlib.error) as exc:
        raise DatasetError(f"{name}: corrupt gzip data ({exc})") from exc


def _parse(stream: BinaryIO, ndim: int | None, name: str) -> np.ndarray:
    header = _read_exactly(stream, 4, name, "the 4-byte magic number")
    magic = int.from_bytes(header, "big")
    expected = "0x00000801 (labels) or 0x00000803 (images)"
    if ndim is not None:
        expected = f"0x{0x800 + ndim:08X}"
    if header[:2] != b"\0\0":
        raise DatasetError(
            f"{name}: not an IDX file: magic number 0x{magic:08X}, expected {expected}"
        )
    if header[2] != 0x08:
        raise DatasetError(
            f"{name}: unsupported IDX element type 0x{header[2]:02X} (magic 0x{magic:08X}); "
            f"only 0x08, unsigned byte, is supported: expected {expected}"
        )
    file_ndim = header[3]
    if ndim is not None and file_ndim != ndim:
        raise DatasetError(
            f"{name}: expected magic number {expected} ({ndim}-dimensional), "
            f"got 0x{magic:08X} ({file_ndim}-dimensional)"
        )
    if not 1 <= file_ndim <= MAX_NDIM:
        raise DatasetError(f"{name}: IDX dimension count {file_ndim} is not in 1..{MAX_NDIM}")
    shape = struct.unpack(
        f">{file_ndim}I", _read_exactly(stream, 4 * file_ndim, name, "dimensions")
    )
    size = math.prod(shape)
    if size > MAX_PAYLOAD_BYTES:
        raise DatasetError(
            f"{name}: header declares shape {shape} = {size} bytes, over the limit of "
            f"{MAX_PAYLOAD_BYTES} bytes; the header is corrupt"
        )
    # np.empty does not touch its pages, so a truncated file costs only the bytes it really holds.
    out = np.empty(size, dtype=np.uint8)
    view = memoryview(out)
    done = 0
    while done < size:
        n = stream.readinto(view[done : done + _CHUNK])
        if not n:
            raise DatasetError(
                f"{name}: truncated: header declares shape {shape} = {size} bytes of data, "
                f"file holds only {done}"
            )
        done += n
    if stream.read(1):
        raise DatasetError(
            f"{name}: over-long: data continues past the {size} bytes that shape {shape} declares"
        )
    return out.reshape(shape)


def _read_exactly(stream: BinaryIO, n: int, name: str, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise DatasetError(f"{name}: truncated: file ends inside {what}")
    return data


def load_from_folder(
    folder: str | os.PathLike[str], checksums: Mapping[str, str] | None = None
) -> tuple[Split, Split]:
    """Loads the four MNIST-family IDX files from one folder.

    Args:
        folder: the folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
            t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz.
        checksums: file name -> expected SHA-256 (hex) for each of the four files, or None to skip
            verification (for tests on hand-made files). Defaults to None.

    Returns:
        `(x_train, y_train), (x_test, y_test)`.

    Raises:
        DatasetNotFoundError: some of the four files are not in `folder`.
        DatasetError: a file fails its checksum or does not parse, or image and label counts
            differ.
    """
    folder = Path(folder)
    missing = [f for f in FILES if not (folder / f).is_file()]
    if missing:
        raise DatasetNotFoundError(
            f"{len(missing)} of the {len(FILES)} dataset files are not in {folder}: "
            f"{', '.join(missing)}"
        )
    return _load_files({f: folder / f for f in FILES}, checksums)


def _load_files(
    paths: Mapping[str, Path], checksums: Mapping[str, str] | None
) -> tuple[Split, Split]:
    splits = []
    for _, images_file, labels_file in SPLITS:
        x = _read_verified(paths[images_file], _expected(checksums, images_file), ndim=3)
        y = _read_verified(paths[labels_file], _expected(checksums, labels_file), ndim=1)
        if x.shape[0] != y.shape[0]:
            raise DatasetError(
                f"{paths[images_file]} holds {x.shape[0]} images but {paths[labels_file]} "
                f"holds {y.shape[0]} labels; they must agree"
            )
        splits.append((x, y))
    return splits[0], splits[1]


def _expected(checksums: Mapping[str, str] | None, filename: str) -> str | None:
    return None if checksums is None else checksums[filename]


def _read_verified(path: Path, expected: str | None, ndim: int) -> np.ndarray:
    if expected is None:
        return read_idx(path, ndim=ndim)
    if path.stat().st_size > MAX_PAYLOAD_BYTES:
        raise DatasetError(f"{path}: {path.stat().st_size} bytes is too large to be this dataset")
    data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected.lower():
        raise DatasetError(
            f"{path}: SHA-256 mismatch: expected {expected.lower()}, got {actual}. The file is "
            "corrupt or not the original; delete or replace it."
        )
    return read_idx(data, ndim=ndim, name=str(path))


def data_dir(name: str) -> Path | None:
    """Returns `$FASTMLP_DATA/<name>`, or None where FASTMLP_DATA is unset or empty."""
    root = os.environ.get("FASTMLP_DATA")
    return Path(root).expanduser() / name if root else None


def cache_dir(name: str) -> Path:
    """Returns the per-user folder that downloads of dataset `name` go to.

    That is `$FASTMLP_CACHE/datasets/<name>` where FASTMLP_CACHE is set, else
    `$XDG_CACHE_HOME/fastmlp/datasets/<name>`, else `~/.cache/fastmlp/datasets/<name>`.
    """
    if os.environ.get("FASTMLP_CACHE"):
        root = Path(os.environ["FASTMLP_CACHE"]).expanduser()
    elif os.environ.get("XDG_CACHE_HOME"):
        root = Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "fastmlp"
    else:
        root = Path.home() / ".cache" / "fastmlp"
    return root / "datasets" / name


def load_npz(path: str | os.PathLike[str]) -> tuple[Split, Split]:
    """Keras's `mnist.npz` layout: arrays x_train, y_train, x_test, y_test (no pickles), checked
    for the MNIST shapes and dtypes: uint8 images (n, 28, 28) and labels 0-9, one per image."""
    name = os.fspath(path)
    try:
        with np.load(name, allow_pickle=False) as f:
            arrays = {key: f[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise DatasetError(
            f"{name}: not an npz file with x_train, y_train, x_test and y_test ({err})"
        ) from None
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != (28, 28):
            raise DatasetError(
                f"{name}: x_{split} must be uint8 (n, 28, 28), got {x.dtype} {x.shape}"
            )
        if (
            y.dtype.kind not in "iu"
            or y.shape != (len(x),)
            or (y.size and not 0 <= y.min() <= y.max() <= 9)
        ):
            raise DatasetError(f"{name}: y_{split} must hold one label 0-9 per image")
        arrays[f"y_{split}"] = y.astype(np.uint8)
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])


def load_dataset(
    name: str,
    checksums: Mapping[str, str],
    mirrors: Sequence[str],
    path: str | os.PathLike[str] | None = None,
) -> tuple[Split, Split]:
    """Finds, verifies and loads an MNIST-family dataset, downloading it if need be.

    Each file is looked for in `$FASTMLP_DATA/<name>`, then in `cache_dir(name)`; a file found in
    neither is downloaded from the first mirror that serves it intact, into the cache.

    Args:
        name: the dataset's folder name, "mnist" or "fashion-mnist".
        checksums: file name -> expected SHA-256 (hex) for each of the four files.
        mirrors: base URLs, each ending in "/", tried in order.
        path: a folder holding the four files; if given, only it is searched and nothing is
            downloaded. Defaults to None.

    Returns:
        `(x_train, y_train), (x_test, y_test)`.

    Raises:
        DatasetNotFoundError: files missing and not downloadable; the message says where to put
            them and why each download failed.
        DatasetError: a file fails its checksum or does not parse.
    """
    if path is not None:
        return load_from_folder(path, checksums)
    data, cache = data_dir(name), cache_dir(name)
    paths = {}
    for filename in FILES:
        for folder in (data, cache):
            if folder is not None and (folder / filename).is_file():
                paths[filename] = folder / filename
                break
    errors: list[str] = []
    for filename in FILES:
        if filename not in paths:
            downloaded, errors = _download(filename, mirrors, cache, checksums[filename])
            if downloaded is None:
                break  # offline or every mirror broken: the remaining files would fail alike
            paths[filename] = downloaded
    missing = [f for f in FILES if f not in paths]
    if missing:
        raise DatasetNotFoundError(_not_found_message(name, missing, data, cache, errors))
    return _load_files(paths, checksums)


def _not_found_message(
    name: str, missing: list[str], data: Path | None, cache: Path, errors: list[str]
) -> str:
    where = f"$FASTMLP_DATA/{name} = {data}" if data else "$FASTMLP_DATA (not set)"
    files = ", ".join(missing)
    lines = [
        f"{name}: {len(missing)} of the {len(FILES)} files not found or downloaded: {files}.",
        f"Looked in {where}, then in the cache folder {cache}.",
        f"Put the files in {cache}, or in <folder>/{name}/ with FASTMLP_DATA=<folder> set, "
        + "or pass load_data(path=<folder holding them>).",
    ]
    if errors:
        lines.append("Download errors:")
        lines += [f"  {e}" for e in errors]
    return "\n".join(lines)


def _download(
    filename: str, mirrors: Sequence[str], folder: Path, expected: str
) -> tuple[Path | None, list[str]]:
    """Tries each mirror in turn; returns the verified file's path (or None) and the errors."""
    if not mirrors:
        return None, ["no download mirrors configured"]
    errors = []
    for base in mirrors:
        url = base + filename
        try:
            return _fetch(url, folder / filename, expected), errors
        except (OSError, ValueError) as exc:  # URLError and HTTPError are OSErrors
            errors.append(f"{url}: {exc}")
    return None, errors


def _fetch(url: str, dest: Path, expected: str) -> Path:
    """Downloads `url` to `dest` atomically: a temporary file, verified, then renamed into place."""
    import urllib.request  # here, not at the top: http and ssl were a sixth of `import fastmlp`

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    drawn = -1  # the last percentage (or MB, size unknown) drawn on the progress bar
    try:
        digest = hashlib.sha256()
        request = urllib.request.Request(url, headers={"User-Agent": "fastmlp"})
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(request, timeout=60) as response:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for chunk in iter(lambda: response.read(1 << 16), b""):
                done += len(chunk)
                if done > MAX_PAYLOAD_BYTES:
                    raise ValueError(f"more than {MAX_PAYLOAD_BYTES} bytes; not this dataset")
                digest.update(chunk)
                out.write(chunk)
                step = 100 * done // total if total else done >> 20
                if step != drawn:
                    _progress(dest.name, done, total)
                    drawn = step
        actual = digest.hexdigest()
        if actual != expected.lower():
            raise ValueError(f"SHA-256 mismatch: expected {expected.lower()}, got {actual}")
        os.replace(tmp, dest)
    finally:
        if drawn >= 0:
            sys.stderr.write("\n")
        if os.path.exists(tmp):
            os.remove(tmp)
    return dest


def _progress(name: str, done: int, total: int) -> None:
    """Draws `name [#####-----]  50%  4.9/9.9 MB` on one stderr line, redrawn in place."""
    mb = f"{done / 1e6:.1f}"
    if total:
        filled = 30 * min(done, total) // total
        bar = "#" * filled + "-" * (30 - filled)
        line = f"\r{name} [{bar}] {100 * done // total:3d}%  {mb}/{total / 1e6:.1f} MB"
    else:
        line = f"\r{name} {mb} MB"
    sys.stderr.write(line)
    sys.stderr.flush()
