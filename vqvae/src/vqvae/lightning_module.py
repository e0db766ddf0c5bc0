"""Wires the VQVAE to Lightning: losses, codebook statistics, validation grid, optimiser."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from ocr_common.checkpoints import VersionedCheckpoints
from ocr_common.config import config_from_dict, config_to_dict
from ocr_common.optimization import ClipsFusedOptimizerGradients, use_fused_adamw
from vqvae.checkpoint import CHECKPOINT_FORMAT_VERSION, CHECKPOINT_VERSION_KEY
from vqvae.config import VQVAEConfig
from vqvae.grid import reconstruction_grid
from vqvae.images import psnr, to_pil
from vqvae.model import VQVAE
from vqvae.quantizer import codebook_perplexity

GRID_IMAGES = 16


class VQVAETask(VersionedCheckpoints, ClipsFusedOptimizerGradients, L.LightningModule):
    checkpoint_version_key = CHECKPOINT_VERSION_KEY
    checkpoint_format_version = CHECKPOINT_FORMAT_VERSION
    checkpoint_kind = "VQVAE"

    def __init__(self, config: dict[str, Any]) -> None:
        super().__init__()
        self.save_hyperparameters()  # the resolved config travels inside every checkpoint
        self.config = config_from_dict(VQVAEConfig, config)
        self.model = VQVAE(self.config.model)
        self._images_seen = 0
        self._train_started: float | None = None

    @classmethod
    def from_config(cls, config: VQVAEConfig) -> VQVAETask:
        return cls(config_to_dict(config))

    def _losses(self, images: torch.Tensor) -> tuple[dict[str, torch.Tensor], Any]:
        output = self.model(images)
        l1 = F.l1_loss(output.images, images)
        mse = F.mse_loss(output.images, images)
        loss = l1 + self.config.model.l2_weight * mse + output.quantized.loss
        stats = {
            "loss": loss,
            "l1": l1,
            "mse": mse,
            "quantizer_loss": output.quantized.loss,
            "perplexity": output.quantized.perplexity,
            "used_fraction": output.quantized.used_fraction,
        }
        return stats, output

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        images = batch["images"]
        if images.numel() == 0:
            return None
        if self._train_started is None:
            self._train_started = time.perf_counter()
        stats, _ = self._losses(images)
        self._images_seen += images.shape[0]
        elapsed = time.perf_counter() - self._train_started
        if elapsed > 0:
            stats["images_per_sec"] = torch.tensor(self._images_seen / elapsed)
        loss = stats.pop("loss")
        self.log("train/loss", loss, prog_bar=True, batch_size=images.shape[0])
        self.log_dict({f"train/{k}": v for k, v in stats.items()}, batch_size=images.shape[0])
        return loss

    def on_validation_epoch_start(self) -> None:
        self._val_counts = torch.zeros(self.model.num_codes, device=self.device)
        self._val_pairs: list[tuple[Any, Any]] = []

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        images = batch["images"]
        if images.numel() == 0:
            return
        stats, output = self._losses(images)
        size = images.shape[0]
        self.log("val/loss", stats["loss"], batch_size=size, sync_dist=True)
        self.log("val/l1", stats["l1"], batch_size=size, sync_dist=True)
        self.log("val/mse", stats["mse"], batch_size=size, sync_dist=True)
        self._val_counts += torch.bincount(
            output.quantized.indices.flatten(), minlength=self.model.num_codes
        )
        for original, rebuilt in zip(images, output.images, strict=False):
            if len(self._val_pairs) < GRID_IMAGES:
                self._val_pairs.append((to_pil(original), to_pil(rebuilt.clamp(-1, 1))))

    def on_validation_epoch_end(self) -> None:
        mse = self.trainer.callback_metrics.get("val/mse")
        if mse is not None:
            self.log("val/psnr", psnr(float(mse)), sync_dist=True)
        # Every rank saw part of the validation set: count codes over all of them.
        counts = self.trainer.strategy.reduce(self._val_counts, reduce_op="sum")
        if counts.sum() > 0:
            self.log("val/perplexity", codebook_perplexity(counts))
            self.log("val/used_fraction", (counts > 0).float().mean())
        if self._val_pairs and self.trainer.is_global_zero and not self.trainer.sanity_checking:
            self._save_grid()

    def _save_grid(self) -> None:
        grid = reconstruction_grid(*zip(*self._val_pairs, strict=False))
        folder = Path(self.trainer.default_root_dir) / "reconstructions"
        folder.mkdir(parents=True, exist_ok=True)
        grid.save(folder / f"step{self.global_step:07d}.png")
        experiment = getattr(self.logger, "experiment", None)
        if hasattr(experiment, "add_image"):  # TensorBoard takes images; CSV does not
            import numpy as np

            experiment.add_image(
                "val/reconstructions", np.asarray(grid), self.global_step, dataformats="HWC"
            )

    def configure_optimizers(self) -> Any:
        optim = self.config.optim
        optimizer = torch.optim.AdamW(
            self.model.parameters(),
            **optim.options(),
            weight_decay=optim.weight_decay,
            fused=use_fused_adamw(self.model.parameters()) or None,
        )
        warmup = max(1, optim.warmup_steps)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimizer, lambda step: min(1.0, (step + 1) / warmup)
        )
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
