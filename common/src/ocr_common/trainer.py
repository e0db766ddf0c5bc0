"""The Lightning `Trainer` both sub-projects use, built from the `train:` section of a config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from ocr_common.errors import UserError


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
        if self.logger not in LOGGERS:
            raise ValueError(f"train.logger must be one of {sorted(LOGGERS)}, not '{self.logger}'")
        if self.batch_size < 1:
            raise ValueError("train.batch_size must be at least 1")


def _csv(run_dir: Path, name: str) -> Logger:
    return CSVLogger(save_dir=run_dir, name="logs", version="")


def _tensorboard(run_dir: Path, name: str) -> Logger:
    return TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="")


def _wandb(run_dir: Path, name: str) -> Logger:
    try:
        import wandb  # noqa: F401
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:
        raise UserError("train.logger=wandb needs the wandb package: pip install wandb") from None
    # Without credentials wandb would prompt for a login and hang a batch job: log offline.
    has_key = os.environ.get("WANDB_API_KEY") or (Path.home() / ".netrc").is_file()
    return WandbLogger(name=name, save_dir=str(run_dir), offline=not has_key)


LOGGERS = {"csv": _csv, "tensorboard": _tensorboard, "wandb": _wandb}


def build_trainer(
    config: TrainConfig, run_dir: str | os.PathLike, callbacks: list[Callback] = ()
) -> L.Trainer:
    """A Trainer writing logs and `last.ckpt` (plus periodic checkpoints) under `run_dir`."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = ModelCheckpoint(
        dirpath=run_dir,
        filename="step{step}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=1,
        every_n_train_steps=config.checkpoint_every_n_steps or None,
    )
    interval = config.validation_interval
    return L.Trainer(
        default_root_dir=run_dir,
        accelerator=config.accelerator,
        devices=config.devices,
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        max_time=timedelta(minutes=config.max_minutes) if config.max_minutes else None,
        accumulate_grad_batches=config.accumulate_grad_batches,
        gradient_clip_val=config.gradient_clip_val or None,
        val_check_interval=int(interval) if interval > 1 else interval,
        # "Every N batches" counts global steps across epochs, even when an epoch is shorter.
        check_val_every_n_epoch=None if interval > 1 else 1,
        log_every_n_steps=config.log_every_n_steps,
        logger=LOGGERS[config.logger](run_dir, run_dir.name),
        callbacks=[checkpoint, LearningRateMonitor(logging_interval="step"), *callbacks],
    )
