"""How much of training's time goes to waiting for the next batch (`time/data_wait_share`).

A loop that waits for its DataLoader wastes the accelerator; one that never waits is limited by
compute. The wait is the time from one training batch's end to the next one's start — fetching
the batch, which blocks only when no loader worker has one ready — over the loop's time from the
first fetch to the last batch's end. Validation, run between batches, counts in neither (nor
does the fetch right after it). On a GPU, whose kernels run asynchronously, the batch's end waits
for its kernels: otherwise the first thing after it that synchronises (the progress bar reading
the loss) would count the step's own GPU time as waiting for data.
"""

from __future__ import annotations

import time

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_info


class DataWaitMonitor(Callback):
    """Logs `time/data_wait_share` every `log_every_n_steps` and when training ends, and prints
    it then."""

    def __init__(self) -> None:
        self.waited = 0.0  # seconds between a batch's end (or the epoch's start) and the next
        self.total = 0.0  # seconds of the training loop, validation excluded
        self._since: float | None = None  # when the loop last started waiting for a batch

    @property
    def share(self) -> float:
        return self.waited / self.total if self.total else 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._since = time.perf_counter()  # the epoch's first fetch starts its workers: waiting

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, *args) -> None:
        now = time.perf_counter()
        if self._since is not None:
            self.waited += now - self._since
            self.total += now - self._since
        self._since = now  # now the step's own time

    def on_train_batch_end(self, trainer: L.Trainer, module: L.LightningModule, *args) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)  # the step's kernels are its own time
        now = time.perf_counter()
        if self._since is not None:
            self.total += now - self._since
        self._since = now
        if trainer.global_step % max(trainer.log_every_n_steps, 1) == 0:
            self._log(trainer)

    def _log(self, trainer: L.Trainer) -> None:
        # At the step index Lightning logs the last step's own metrics at (0-based).
        step = max(trainer.global_step - 1, 0)
        for logger in trainer.loggers:
            logger.log_metrics({"time/data_wait_share": self.share}, step)

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        # Validation's time, and the fetch of the batch after it, are neither waiting nor
        # training: the loop's bookkeeping around validation would count as waiting.
        self._since = None

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._log(trainer)  # the whole run's share, however few steps it had
        rank_zero_info(
            f"data loading: the training loop waited for batches {self.share:.1%} of its "
            f"{self.total:.1f} s (validation excluded)"
        )
