"""Datasets with the Keras `load_data()` API: MNIST and Fashion-MNIST."""

from . import fashion_mnist, mnist, playground
from ._idx import DatasetError, DatasetNotFoundError

__all__ = ["DatasetError", "DatasetNotFoundError", "fashion_mnist", "mnist", "playground"]
