"""BackupAndRestore (public as `fastmlp.callbacks.BackupAndRestore`): Keras 3's fault tolerance.

fit saves the whole training state to `backup_dir` as it goes; a fit interrupted (an exception,
Ctrl-C, a killed process) and run again with the same callback starts from the last saved epoch
instead of the first. The state is a fastmlp model file (weights, optimizer state and the random
generator that shuffles), so a run resumed from an epoch's end trains on exactly as the one that
never stopped would have; Keras restores weights and optimizer only.
"""

from __future__ import annotations

import json
import os
import shutil
from typing import Any

from fastmlp.callbacks import Callback, Logs


class BackupAndRestore(Callback):
    """Back up the training state to `backup_dir` and restore it when fit runs again.

    Args:
        backup_dir: A folder of its own for this training: latest.fastmlp and
            training_metadata.json are written there.
        save_freq: "epoch" (at the end of each epoch), a number of batches, or False (never:
            only restores). Defaults to "epoch".
        double_checkpoint: Keep the previous backup too (*.bkp), and restore it when the latest
            cannot be read. Defaults to False.
        delete_checkpoint: Delete `backup_dir` when fit ends normally. Defaults to True.

    Example:
        >>> backup = fm.callbacks.BackupAndRestore("/tmp/backup")
        >>> model.fit(x, y, epochs=10, callbacks=[backup])   # interrupted at epoch 6...
        >>> model.fit(x, y, epochs=10, callbacks=[backup])   # ...goes on from epoch 6
    """

    _chunked_batch_hooks = True  # (saving every save_freq batches is content with chunks)

    def __init__(
        self,
        backup_dir: Any,
        save_freq: Any = "epoch",
        double_checkpoint: bool = False,
        delete_checkpoint: bool = True,
    ) -> None:
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed")
        if save_freq != "epoch" and not isinstance(save_freq, int):
            raise ValueError(
                "Invalid value for argument `save_freq`. "
                f"Received: save_freq={save_freq}. "
                "Expected either 'epoch' or an integer value."
            )
        if save_freq is not False and isinstance(save_freq, int) and save_freq < 1:
            raise ValueError(f"save_freq must be 'epoch', False or >= 1 batches, got {save_freq}")
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.double_checkpoint = bool(double_checkpoint)
        self.delete_checkpoint = bool(delete_checkpoint)
        self._model_path = os.path.join(self.backup_dir, "latest.fastmlp")
        self._metadata_path = os.path.join(self.backup_dir, "training_metadata.json")
        self._current_epoch = 0
        self._last_batch_seen = 0
        self._batches_since_saving = 0

    # -- restoring ------------------------------------------------------------------------------
    def on_train_begin(self, logs: Logs = None) -> None:
        try:
            self._restore(self._model_path, self._metadata_path)
        except (OSError, ValueError):
            previous = self._model_path + ".bkp"
            if not os.path.exists(previous):
                raise
            self._restore(previous, self._metadata_path + ".bkp")

    def _restore(self, model_path: str, metadata_path: str) -> None:
        from fastmlp.models import load_model  # (models imports the callbacks)

        if not os.path.exists(model_path):
            return
        model = self.model
        saved = load_model(model_path, device=model.device)
        if [w.shape for w in saved.get_weights()] != [w.shape for w in model.get_weights()]:
            raise ValueError(
                f"BackupAndRestore: the backup in {self.backup_dir} is of another model "
                "(its weights have other shapes); give this training a folder of its own"
            )
        with open(metadata_path, encoding="utf-8") as f:
            epoch = json.load(f)["epoch"]
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"{metadata_path}: invalid epoch {epoch!r}")
        model.set_weights(saved.get_weights())
        if saved.optimizer is not None and model.optimizer is not None:
            model._engine.set_optimizer_state(*saved._engine.get_optimizer_state())
        model._engine.set_rng_state(saved._engine.get_rng_state())
        model._initial_epoch = epoch

    # -- saving ---------------------------------------------------------------------------------
    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self._current_epoch = epoch + 1
        self._last_batch_seen = 0
        if self.save_freq == "epoch":
            self._save()

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        if self.save_freq == "epoch" or self.save_freq is False:
            return
        # (batch: the last step done in this epoch; the hooks may come once per chunk of steps)
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_since_saving += added
        self._last_batch_seen = batch
        if self._batches_since_saving >= self.save_freq:
            self._batches_since_saving = 0
            self._save()

    def _save(self) -> None:
        os.makedirs(self.backup_dir, exist_ok=True)
        if self.double_checkpoint:
            for path in (self._model_path, self._metadata_path):
                if os.path.exists(path):
                    shutil.copyfile(path, path + ".bkp")
        self.model.save(self._model_path, overwrite=True)
        metadata = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        tmp = self._metadata_path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(metadata, f)
        os.replace(tmp, self._metadata_path)

    def on_train_end(self, logs: Logs = None) -> None:
        if self.delete_checkpoint and os.path.exists(self.backup_dir):
            shutil.rmtree(self.backup_dir)
