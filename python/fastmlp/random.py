"""`tf.random`-style seeding: `import fastmlp as tf; tf.random.set_seed(0)`."""

from __future__ import annotations

from fastmlp.utils import set_random_seed as set_seed

__all__ = ["set_seed"]
