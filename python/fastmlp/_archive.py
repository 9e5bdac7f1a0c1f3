"""Reading a fastmlp model file safely: every check that can be made before a byte is used.

The file is a zip archive (see `saving`). Before anything is read, each member's name, flags,
compression method, declared sizes and compression ratio are checked; config.json is read with a
size cap and strict JSON (no NaN, no duplicate keys); each `.npy` member's size is checked against
the shape the config implies, then its header (version, length, dtype, shape, order) is parsed and
checked, and only then is it decoded with `np.load(..., allow_pickle=False)`. Nothing is read
beyond the declared sizes, so a hostile file cannot make a load allocate more than the file holds
(times MAX_DEFLATE_RATIO for deflated members). Every problem is a ValueError naming the file.
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import stat
import struct
import zipfile
import zlib
from typing import Any

import numpy as np

FORMAT = "fastmlp"
VERSION = 1
MAX_CONFIG_BYTES = 16 << 20  # config.json: far more than any real model's config
MAX_NPY_HEADER = 4096  # bytes of a .npy header (NumPy writes 128)
MAX_DEFLATE_RATIO = 100  # a deflated member may expand at most this much (zip bombs)
# zipfile keeps ~600 bytes per member of the central directory: bound it before zipfile reads it.
MAX_MEMBERS = 50_000
MAX_DIRECTORY_BYTES = 8 << 20
DTYPES = {"float32": "<f4", "float64": "<f8"}  # the only array types a file may hold
_MEMBER = re.compile(r"(weights|optimizer)/\d{4}\.npy")


_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_KERAS_FILES = (
    "fastmlp reads only its own files; to take a Keras model's weights, build the same layers "
    "in fastmlp and call model.set_weights(keras_model.get_weights())"
)


class Archive:
    """An open model file whose members and config have passed the checks that need no config."""

    def __init__(self, filepath: str | os.PathLike[str]) -> None:
        self.path = os.fspath(filepath)
        # Not a FIFO or a device (open would wait forever, or read without end).
        if os.path.exists(self.path) and not stat.S_ISREG(os.stat(self.path).st_mode):
            raise ValueError(f"{self.path} is not a regular file")
        self._file = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        self._used = {"config.json"}
        try:
            self._size = os.fstat(self._file.fileno()).st_size
            if self._file.read(8) == _HDF5_SIGNATURE:
                raise self.error(f"is an HDF5 file (Keras's .h5 format). {_KERAS_FILES}")
            self._file.seek(0)
            count, directory = self._directory()
            if count > MAX_MEMBERS or directory > MAX_DIRECTORY_BYTES:
                raise self.error(
                    f"has {count} members in a directory of {directory} bytes, more than "
                    f"{MAX_MEMBERS} members or {MAX_DIRECTORY_BYTES} bytes"
                )
            try:
                self._zip = zipfile.ZipFile(self._file)
            except (
                zipfile.BadZipFile,
                zipfile.LargeZipFile,
                EOFError,
                OSError,
                ValueError,
                struct.error,
                NotImplementedError,
            ) as err:
                if isinstance(err, (FileNotFoundError, PermissionError)):
                    raise
                raise self.error(
                    "is not a fastmlp model file (not a readable zip archive)"
                ) from None
            names = set(self._zip.namelist())
            if "metadata.json" in names and "config.json" in names and "model.weights.h5" in names:
                raise self.error(f"is a Keras 3 .keras file. {_KERAS_FILES}")
            self.members = self._check_members()
            self.config = self._read_config()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Archive:  # noqa: PYI034
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if getattr(self, "_zip", None) is not None:
            self._zip.close()
        self._file.close()

    def error(self, message: str) -> ValueError:
        return ValueError(f"cannot load {self.path!r}: the file {message}")

    def call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """fn(*args, **kwargs), with an error caused by the file's `what` as a ValueError."""
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, KeyError, AttributeError, NotImplementedError) as err:
            raise self.error(f"has invalid {what}: {type(err).__name__}: {err}") from None
        except RecursionError:
            raise self.error(f"has invalid {what}: nested too deeply") from None

    def integer(self, value: Any, what: str, bound: int = 1 << 63) -> int:
        """`value` if it is an int in [0, bound), else a ValueError."""
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < bound:
            raise self.error(
                f"has invalid {what}: expected an integer in [0, {bound}), got {value!r}"
            )
        return value

    def entry_dict(self, config: dict[str, Any], key: str) -> dict[str, Any]:
        """config[key], which must be a JSON object."""
        value = config.get(key)
        if not isinstance(value, dict):
            raise self.error(
                f"has a config entry {key!r} that is not an object: {type(value).__name__}"
            )
        return value

    def entry_list(self, config: dict[str, Any], key: str) -> list[Any]:
        """config[key], which must be a JSON list."""
        value = config.get(key)
        if not isinstance(value, list):
            raise self.error(
                f"has a config entry {key!r} that is not a list: {type(value).__name__}"
            )
        return value

    def _directory(self) -> tuple[int, int]:
        """Member count and central-directory size that the end of the zip declares (0, 0 if
        there is no end record: zipfile then says it is not a zip)."""
        tail_size = min(self._size, 22 + 0xFFFF)  # end record + the longest comment
        self._file.seek(self._size - tail_size)
        tail = self._file.read(tail_size)
        self._file.seek(0)
        end = tail.rfind(b"PK\x05\x06")
        if end < 0 or end + 22 > len(tail):
            return 0, 0
        count, size = struct.unpack_from("<HI", tail, end + 10)
        locator = end - 20  # a zip64 end record holds the real values when these are saturated
        saturated = count == 0xFFFF or size == 0xFFFFFFFF
        if saturated and locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            (offset,) = struct.unpack_from("<Q", tail, locator + 8)
            if offset + 48 <= self._size:
                self._file.seek(offset)
                record = self._file.read(48)
                self._file.seek(0)
                if record[:4] == b"PK\x06\x06":
                    count, size = struct.unpack_from("<QQ", record, 32)
        return count, size

    def _check_members(self) -> dict[str, zipfile.ZipInfo]:
        members: dict[str, zipfile.ZipInfo] = {}
        for info in self._zip.infolist():
            name = info.filename
            if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or "\\" in name:
                raise self.error(f"has a member with an absolute or Windows path: {name!r}")
            if ".." in name.split("/"):
                raise self.error(f"has a member whose path leaves the archive: {name!r}")
            if name != "config.json" and not _MEMBER.fullmatch(name):
                raise self.error(f"has an unexpected member {name!r}")
            if name in members:
                raise self.error(f"has the member {name!r} twice")
            if info.flag_bits & 0x1:
                raise self.error(f"has an encrypted member {name!r}")
            if info.compress_type == zipfile.ZIP_STORED:
                if info.compress_size != info.file_size:
                    raise self.error(f"member {name!r} declares inconsistent sizes")
            elif info.compress_type == zipfile.ZIP_DEFLATED:
                if info.file_size > max(info.compress_size * MAX_DEFLATE_RATIO, 1 << 20):
                    raise self.error(
                        f"member {name!r} expands from {info.compress_size} to {info.file_size} "
                        f"bytes, more than {MAX_DEFLATE_RATIO}x (a zip bomb?)"
                    )
            else:
                raise self.error(f"member {name!r} uses an unsupported compression method")
            if info.header_offset + info.compress_size > self._size:
                raise self.error(f"member {name!r} extends past the end of the file (truncated?)")
            members[name] = info
        if "config.json" not in members:
            raise self.error("has no config.json: not a fastmlp model file")
        return members

    def _read(self, name: str, size: int) -> bytes:
        """Exactly `size` bytes of a member, never more; corruption is a ValueError."""
        info = self.members[name]
        if info.file_size != size:
            raise self.error(f"member {name!r} holds {info.file_size} bytes, expected {size}")
        try:
            with self._zip.open(info) as f:
                data = f.read(size + 1)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            ValueError,
            struct.error,
            NotImplementedError,
            RuntimeError,
        ) as err:
            raise self.error(f"member {name!r} is corrupted ({err})") from None
        if len(data) != size:
            raise self.error(f"member {name!r} is truncated: {len(data)} of {size} bytes")
        self._used.add(name)
        return data

    def _read_config(self) -> dict[str, Any]:
        size = self.members["config.json"].file_size
        if size > MAX_CONFIG_BYTES:
            raise self.error(f"has a config.json of {size} bytes, more than {MAX_CONFIG_BYTES}")

        def no_constants(token: str) -> Any:
            raise ValueError(f"{token} is not allowed")

        def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
            keys = [key for key, _ in pairs]
            if len(set(keys)) != len(keys):
                raise ValueError("duplicate keys")
            return dict(pairs)

        try:
            text = self._read("config.json", size).decode("utf-8")
            config = json.loads(text, parse_constant=no_constants, object_pairs_hook=no_duplicates)
        except (UnicodeDecodeError, ValueError, RecursionError) as err:
            if str(err).startswith("cannot load"):
                raise
            raise self.error(f"has an unreadable config.json ({err})") from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise self.error("is not a fastmlp model file (config.json has no format 'fastmlp')")
        version = config.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version != VERSION:
            raise self.error(
                f"has format version {version!r}; this fastmlp reads version {VERSION} "
                "(a newer fastmlp may read it)"
            )
        if config.get("kind") not in ("model", "weights"):
            raise self.error(f"has an unknown kind {config.get('kind')!r}")
        return config

    def arrays(
        self,
        folder: str,
        shapes: list[tuple[int, ...]],
        manifest: dict[str, Any] | None = None,
    ) -> list[np.ndarray]:
        """The arrays listed under `folder` in the config, checked against `shapes` first."""
        key = "slots" if folder == "optimizer" else "weights"
        entries = self.entry_list(self.config if manifest is None else manifest, key)
        if len(entries) != len(shapes):
            raise self.error(
                f"lists {len(entries)} {folder} arrays, the config implies {len(shapes)}"
            )
        out = []
        for i, (entry, shape) in enumerate(zip(entries, shapes)):
            name = f"{folder}/{i:04d}.npy"
            if not isinstance(entry, dict) or entry.get("file") != name:
                raise self.error(f"has a bad manifest entry for {name!r}")
            if entry.get("shape") != list(shape):
                raise self.error(
                    f"lists {name!r} with shape {entry.get('shape')}, the config implies {list(shape)}"
                )
            descr = DTYPES.get(entry.get("dtype"))
            if descr is None:
                raise self.error(f"lists {name!r} with dtype {entry.get('dtype')!r}")
            if name not in self.members:
                raise self.error(f"is missing the member {name!r}")
            out.append(self._array(name, tuple(shape), descr))
        return out

    def _array(self, name: str, shape: tuple[int, ...], descr: str) -> np.ndarray:
        """Parse and check a .npy member's header, then decode it without pickle."""
        nbytes = math.prod(shape) * np.dtype(descr).itemsize
        info = self.members[name]
        header_len = info.file_size - nbytes
        if not 10 < header_len <= MAX_NPY_HEADER + 12:
            raise self.error(
                f"member {name!r} holds {info.file_size} bytes, but an array of shape {shape} "
                f"needs {nbytes} plus a header"
            )
        data = self._read(name, info.file_size)
        buf = io.BytesIO(data)
        try:
            version = np.lib.format.read_magic(buf)
            if version not in ((1, 0), (2, 0)):
                raise ValueError(f"unsupported .npy format version {version}")
            # The header's length comes before the header: refuse a long one before parsing it.
            (length,) = struct.unpack_from("<H" if version == (1, 0) else "<I", data, 8)
            if length > MAX_NPY_HEADER:
                raise ValueError(f"a header of {length} bytes, more than {MAX_NPY_HEADER}")
            reader = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            got_shape, fortran, dtype = reader(buf)
        except (ValueError, TypeError, SyntaxError, struct.error) as err:
            raise self.error(f"member {name!r} is not a valid .npy array ({err})") from None
        if dtype.hasobject or dtype.str != descr:
            raise self.error(
                f"member {name!r} has dtype {dtype.str!r}; expected {descr!r} "
                "(little-endian float32 or float64, no objects)"
            )
        if tuple(got_shape) != shape or fortran:
            raise self.error(
                f"member {name!r} has shape {tuple(got_shape)}"
                f"{' in Fortran order' if fortran else ''}, the config implies {shape}"
            )
        if len(data) - buf.tell() != nbytes:
            raise self.error(
                f"member {name!r} has {len(data) - buf.tell()} data bytes, expected {nbytes}"
            )
        return np.load(io.BytesIO(data), allow_pickle=False)

    def check_all_members_used(self) -> None:
        extra = sorted(set(self.members) - self._used)
        if extra:
            raise self.error(f"has members the config does not list: {extra}")
