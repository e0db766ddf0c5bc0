"""The Lightning `Trainer` both sub-projects use, built from the `train:` section of a config."""

from __future__ import annotations

import csv
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.loggers.logger import rank_zero_experiment
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.loggers.csv_logs import ExperimentWriter

from ocr_common.atomic import atomic_path
from ocr_common.checkpoints import ResumePoint, read_resume_point
from ocr_common.data_wait import DataWaitMonitor
from ocr_common.devices import allow_tf32
from ocr_common.errors import UserError
from ocr_common.train_config import LOGGER_NAMES, TrainConfig

# Re-exported: these lived here before the Lightning-free modules held them.
__all__ = ["ResumePoint", "TrainConfig", "build_trainer", "read_resume_point"]


class _ContinuedExperimentWriter(ExperimentWriter):
    """Lightning's CSV writer deletes an existing metrics.csv; a resumed run keeps the rows logged
    before its checkpoint instead and appends to them (rows after it are logged again)."""

    def __init__(self, log_dir: str, resume_step: int) -> None:
        self.resume_step = resume_step
        super().__init__(log_dir)

    def _check_log_dir_exists(self) -> None:  # called by __init__ in place of the deletion
        path = Path(self.metrics_file_path)
        if not path.is_file():
            return
        with path.open(newline="", encoding="utf-8") as file:
            reader = csv.DictReader(file)
            header = list(reader.fieldnames or [])
            kept = [row for row in reader if int(float(row["step"])) < self.resume_step]
        with atomic_path(path) as tmp, tmp.open("w", newline="", encoding="utf-8") as file:
            writer = csv.DictWriter(file, fieldnames=header)
            writer.writeheader()
            writer.writerows(kept)
        self.metrics_keys = sorted(header)


class _ContinuedCSVLogger(CSVLogger):
    def __init__(self, save_dir: Path, resume_step: int) -> None:
        super().__init__(save_dir=save_dir, name="logs", version="")
        self.resume_step = resume_step

    @property
    @rank_zero_experiment
    def experiment(self) -> ExperimentWriter:
        if self._experiment is None:
            self._fs.makedirs(self.root_dir, exist_ok=True)
            self._experiment = _ContinuedExperimentWriter(self.log_dir, self.resume_step)
        return self._experiment


def _csv(run_dir: Path, name: str, resume: ResumePoint | None) -> Logger:
    if resume is None:
        return CSVLogger(save_dir=run_dir, name="logs", version="")
    return _ContinuedCSVLogger(run_dir, resume.global_step)


def _tensorboard(run_dir: Path, name: str, resume: ResumePoint | None) -> Logger:
    # TensorBoard shows the latest value of a step written twice, so a resumed run just appends.
    return TensorBoardLogger(save_dir=run_dir, name="tensorboard", version="")


def _wandb(run_dir: Path, name: str, resume: ResumePoint | None) -> Logger:
    try:
        import wandb  # noqa: F401
        from lightning.pytorch.loggers import WandbLogger
    except ImportError:
        raise UserError("train.logger=wandb needs the wandb package: pip install wandb") from None
    # Without credentials wandb would prompt for a login and hang a batch job: log offline.
    has_key = os.environ.get("WANDB_API_KEY") or (Path.home() / ".netrc").is_file()
    return WandbLogger(name=name, save_dir=str(run_dir), offline=not has_key)


LOGGERS = {"csv": _csv, "tensorboard": _tensorboard, "wandb": _wandb}
assert tuple(LOGGERS) == LOGGER_NAMES


class StepAndEpochCheckpoint(ModelCheckpoint):
    """Saves every N training steps *and* at each epoch end (and so at the end of training).

    Lightning's ModelCheckpoint refuses both options together, though its saving logic handles
    them independently; two instances instead would race for last.ckpt (one writes last-v1.ckpt).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._every_n_epochs = 1


class FlushLogsAtCheckpoint(Callback):
    """Write buffered metrics at each checkpoint (the CSV logger otherwise flushes every 100
    steps), so a run killed after a checkpoint has its metrics up to it on disk. A step's own
    metrics are logged just after its on_train_batch_end checkpoint: flushed at the next batch."""

    def __init__(self) -> None:
        self._pending = False

    def _flush(self, trainer: L.Trainer) -> None:
        for logger in trainer.loggers:
            logger.save()

    def on_save_checkpoint(self, trainer: L.Trainer, module: L.LightningModule, checkpoint) -> None:
        self._flush(trainer)
        self._pending = True

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, *args) -> None:
        if self._pending:
            self._flush(trainer)
            self._pending = False


class StepSeededRandomness(Callback):
    """Seed torch before each training batch from the run's seed and the number of batches
    trained so far. Lightning checkpoints hold no random state: without this a resumed run would
    draw other dropout masks (GPT-2) and code restarts (VQVAE) than the uninterrupted run."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def on_train_batch_start(self, trainer: L.Trainer, module: L.LightningModule, *args) -> None:
        # Counts batches, not optimizer steps, so micro-batches of one accumulated step differ.
        batches = trainer.fit_loop.epoch_loop.batch_progress.total.ready
        torch.manual_seed(self.seed << 32 | batches)  # seeds every CUDA device too


def build_trainer(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    callbacks: list[Callback] = (),
    *,
    resume: ResumePoint | None = None,
) -> L.Trainer:
    """A Trainer writing logs and `last.ckpt` (plus periodic checkpoints) under `run_dir`.

    With `resume`, the CSV metrics continue those of the interrupted run (pass `resume.path` to
    `fit(ckpt_path=…)`). Every data module of the project shards batches by rank itself
    (ocr_common.sampling), so Lightning must not wrap its samplers in a DistributedSampler.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    checkpoint = StepAndEpochCheckpoint(
        dirpath=run_dir,
        filename="step{step}",
        auto_insert_metric_name=False,
        save_last=True,
        save_top_k=1,
        every_n_train_steps=config.checkpoint_every_n_steps or None,
    )
    try:
        return _trainer(config, run_dir, callbacks, resume, checkpoint)
    except (MisconfigurationException, ValueError) as error:  # accelerator, precision, devices…
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise UserError(
            f"train.accelerator={config.accelerator}, train.devices={config.devices}, "
            f"train.strategy={config.strategy}, train.precision={config.precision}: {first}"
        ) from None


def _trainer(
    config: TrainConfig,
    run_dir: Path,
    callbacks: list[Callback],
    resume: ResumePoint | None,
    checkpoint: ModelCheckpoint,
) -> L.Trainer:
    interval = config.validation_interval
    trainer = L.Trainer(
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
        logger=LOGGERS[config.logger](run_dir, run_dir.name, resume),
        callbacks=[
            checkpoint,
            FlushLogsAtCheckpoint(),
            StepSeededRandomness(config.seed),
            LearningRateMonitor(logging_interval="step"),
            DataWaitMonitor(),
            *callbacks,
        ],
        use_distributed_sampler=False,  # ocr_common.sampling shards by rank
    )
    allow_tf32(trainer.strategy.root_device)  # float32 matmuls on CUDA tensor cores
    return trainer
