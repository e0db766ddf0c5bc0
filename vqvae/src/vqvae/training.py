"""The training run behind `src/train.py`."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from ocr_common.config import save_config
from ocr_common.trainer import build_trainer, read_resume_point
from vqvae.config import VQVAEConfig
from vqvae.data import TemplateDataset, VQVAEDataModule
from vqvae.lightning_module import VQVAETask
from vqvae.shapes import place


def padded_pixel_share(data: TemplateDataset) -> float:
    """Mean share of each template's pixels that are padding rather than image."""
    if not len(data.sizes):
        return 0.0
    share = 0.0
    for (width, height), template in zip(data.sizes, data.templates[:: data.repeats], strict=False):
        placement = place(width, height, template, data.downsample)
        rows, cols = template
        share += 1 - placement.width * placement.height / (rows * cols * data.downsample**2)
    return share / len(data.sizes)


class ThroughputMeter(Callback):
    """Training images per second over the whole fit (validation time excluded)."""

    def __init__(self) -> None:
        self.images = 0
        self.seconds = 0.0
        self._start = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._start = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.seconds += time.perf_counter() - self._start
        self.images += int(batch["images"].shape[0]) if batch["images"].numel() else 0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds if self.seconds else 0.0


@dataclass
class TrainReport:
    run_dir: Path
    images_per_second: float
    padded_pixel_share: float
    num_skipped: int


def train(
    config: VQVAEConfig,
    run_dir: str | os.PathLike,
    resume_from: str | os.PathLike | None = None,
    callbacks: list[Callback] = (),
) -> TrainReport:
    """Train (on every rank under DDP); `resume_from` continues a run exactly where its checkpoint
    left it: weights, optimiser, LR schedule, step, epoch and the position within the epoch."""
    run_dir = Path(run_dir)
    resume = read_resume_point(resume_from) if resume_from else None
    L.seed_everything(config.train.seed, workers=True)
    data = VQVAEDataModule(
        config.data,
        config.model.downsample,
        config.train.batch_size,
        config.train.num_workers,
        config.train.seed,
        channels=config.model.encoder.num_channels,
    )
    data.setup("fit")
    padding = padded_pixel_share(data.train_set)
    print(
        f"{len(data.train_set)} training / {len(data.val_set)} validation images; "
        f"padded pixels: {padding:.1%} of each template on average"
    )
    meter = ThroughputMeter()
    trainer = build_trainer(
        config.train,
        run_dir,
        callbacks=[meter, *callbacks],
        resume=resume,
    )
    if trainer.is_global_zero:
        save_config(config, run_dir / "config.yaml")
    trainer.fit(
        VQVAETask.from_config(config),
        datamodule=data,
        ckpt_path=resume.path if resume else None,
        weights_only=True,
    )
    return TrainReport(
        run_dir,
        meter.images_per_second,
        padding,
        data.train_set.num_skipped + data.val_set.num_skipped,
    )
