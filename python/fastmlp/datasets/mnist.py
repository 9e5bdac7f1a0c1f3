"""MNIST handwritten digits: 60,000 training and 10,000 test images of 28x28 pixels, labels 0-9."""

from __future__ import annotations

import os

from ._idx import Split, load_dataset, load_npz

# Tried in order; each serves the four original gzip IDX files under these names.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
# SHA-256 of the original files as LeCun, Cortes and Burges distributed them.
SHA256SUMS = {
    "train-images-idx3-ubyte.gz": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    ),
    "train-labels-idx1-ubyte.gz": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
    ),
}


def load_data(path: str | os.PathLike[str] | None = None) -> tuple[Split, Split]:
    """Loads the MNIST dataset of handwritten digits, like `keras.datasets.mnist.load_data`.

    The four gzip IDX files are looked for in `$FASTMLP_DATA/mnist/`, then in the cache folder
    (`$FASTMLP_CACHE/datasets/mnist`, else `$XDG_CACHE_HOME/fastmlp/datasets/mnist`, else
    `~/.cache/fastmlp/datasets/mnist`), and downloaded into the cache if found in neither. Every
    file's SHA-256 is checked before use.

    Args:
        path: a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
            t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; only it is searched, and
            nothing is downloaded. A path ending in ".npz" is Keras's: an existing file is read
            as Keras's mnist.npz; a name that is not a file (Keras's default "mnist.npz", a
            cache name) means the usual search. Defaults to None.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); pixels 0 (background) to 255, labels 0 to 9.

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) the files are not on disk and could not be
            downloaded.
        DatasetError: (a ValueError) a file fails its checksum or is corrupt.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = mnist.load_data()
    >>> x_train = x_train.reshape(-1, 784).astype("float32") / 255
    """
    if path is not None and os.fspath(path).endswith(".npz"):
        if os.path.isfile(path):
            return load_npz(path)
        path = None
    return load_dataset("mnist", SHA256SUMS, MIRRORS, path=path)
