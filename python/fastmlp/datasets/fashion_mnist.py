"""Fashion-MNIST: 60,000 training and 10,000 test 28x28 images of Zalando articles, 10 classes."""

from __future__ import annotations

import os

from ._idx import Split, load_dataset

# Tried in order; each serves the four gzip IDX files under these names.
MIRRORS = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
)
# SHA-256 of the files as Zalando Research distributes them (the current release); they also
# guard the plain-http mirror.
SHA256SUMS = {
    "train-images-idx3-ubyte.gz": (
        "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
    ),
    "train-labels-idx1-ubyte.gz": (
        "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
    ),
    "t10k-images-idx3-ubyte.gz": (
        "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
    ),
    "t10k-labels-idx1-ubyte.gz": (
        "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
    ),
}
# What the labels 0-9 mean.
CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def load_data(path: str | os.PathLike[str] | None = None) -> tuple[Split, Split]:
    """Loads the Fashion-MNIST dataset, like `keras.datasets.fashion_mnist.load_data`.

    The four gzip IDX files are looked for in `$FASTMLP_DATA/fashion-mnist/`, then in the cache
    folder (`$FASTMLP_CACHE/datasets/fashion-mnist`, else
    `$XDG_CACHE_HOME/fastmlp/datasets/fashion-mnist`, else
    `~/.cache/fastmlp/datasets/fashion-mnist`), and downloaded into the cache if found in
    neither. Every file's SHA-256 is checked before use.

    Args:
        path: a folder holding train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
            t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz; only it is searched, and
            nothing is downloaded. Defaults to None.

    Returns:
        `(x_train, y_train), (x_test, y_test)`: uint8 arrays of shapes (60000, 28, 28),
        (60000,), (10000, 28, 28) and (10000,); pixels 0 (background) to 255, labels 0 to 9
        as named in `CLASS_NAMES`.

    Raises:
        DatasetNotFoundError: (a FileNotFoundError) the files are not on disk and could not be
            downloaded.
        DatasetError: (a ValueError) a file fails its checksum or is corrupt.

    Example:

    >>> (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data()
    >>> CLASS_NAMES[y_train[0]]
    'Ankle boot'
    """
    return load_dataset("fashion-mnist", SHA256SUMS, MIRRORS, path=path)
