"""The `train:` section of every training config, importable without Lightning (a config that
holds it is read by inference code too); ocr_common.trainer builds the Trainer from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

LOGGER_NAMES = ("csv", "tensorboard", "wandb")  # ocr_common.trainer.LOGGERS builds each


@dataclass
class TrainConfig:
    """Runtime knobs shared by every training config; the seed's `train:` keys plus hardware."""

    epochs: int = 1
    max_steps: int = -1  # stop after this many optimizer steps (-1: run all epochs)
    max_minutes: float = 0.0  # stop after this much wall-clock time (0: no limit)
    batch_size: int = 32
    accumulate_grad_batches: int = 1
    gradient_clip_val: float = 0.0  # 0 disables clipping
    validation_interval: float = 1.0  # ≤ 1: fraction of an epoch; > 1: every N batches
    log_every_n_steps: int = 10
    checkpoint_every_n_steps: int = 0  # 0: checkpoint once per epoch only
    accelerator: str = "auto"
    devices: Any = "auto"  # an int, a list of ids or "auto"
    num_nodes: int = 1
    strategy: str = "auto"  # "ddp", "fsdp", … (Lightning's own strategies)
    precision: str = "32-true"  # "bf16-mixed" / "16-mixed" on GPU
    logger: str = "csv"  # csv | tensorboard | wandb
    num_workers: int = 2
    seed: int = 42

    def validate(self) -> None:
        if self.logger not in LOGGER_NAMES:
            raise ValueError(
                f"train.logger must be one of {sorted(LOGGER_NAMES)}, not '{self.logger}'"
            )
        if self.batch_size < 1:
            raise ValueError("train.batch_size must be at least 1")
        if self.accumulate_grad_batches < 1:
            raise ValueError("train.accumulate_grad_batches must be at least 1")
        if self.num_workers < 0:
            raise ValueError("train.num_workers must be at least 0 (0: load in the main process)")
