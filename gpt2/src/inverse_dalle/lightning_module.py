"""Wires the GPT-2, the losses, the optimiser and validation reading together."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
import torch.nn.functional as F
from transformers import get_scheduler

from inverse_dalle.config import InverseDalleConfig, OptimizerConfig
from inverse_dalle.model import build_model
from inverse_dalle.reading import read_grids
from inverse_dalle.token_format import IGNORE, TokenLayout
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.checkpoints import VersionedCheckpoints
from ocr_common.config import config_from_dict, config_to_dict
from ocr_common.errors import UserError
from ocr_common.metrics import score
from ocr_common.optimization import ClipsFusedOptimizerGradients, use_fused_adamw
from vqvae.token_table import string_to_grid

# Written into every GPT-2 training checkpoint under this key; one without it predates the key
# and is version 1 (the same format).
CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_VERSION_KEY = "inverse_dalle_format_version"
CHECKPOINT_LEGACY_VERSION = 1


def layout_for(config: InverseDalleConfig, vocabulary: Vocabulary) -> TokenLayout:
    """The sequence layout of a resolved config (inverse_dalle.data.resolve_layout)."""
    config.check_layout_resolved()
    data = config.data
    return TokenLayout(
        len(vocabulary),
        data.num_visual_tokens,
        data.max_visual_length,
        data.max_text_length,
        data.reading_order,
    )


def segment_loss(
    hidden: torch.Tensor, weight: torch.Tensor, targets: torch.Tensor, first: int, last: int
) -> torch.Tensor:
    """Cross-entropy of the positions with a target, over output rows [first, last) only.

    Text positions only compete among text tokens and image positions among image tokens, so the
    output layer is never computed over the whole 16k-row vocabulary.
    """
    selected = targets != IGNORE
    if not bool(selected.any()):
        return hidden.sum() * 0.0
    logits = hidden[selected] @ weight[first:last].T
    return F.cross_entropy(logits.float(), targets[selected] - first)


def with_code_noise(input_ids: torch.Tensor, layout: TokenLayout, share: float) -> torch.Tensor:
    """`input_ids` with about `share` of its image codes replaced by uniformly random codes;
    [ROW], [COL], padding and text are untouched, and so are the targets (built before this)."""
    is_code = (input_ids >= layout.code_offset) & (input_ids < layout.column_id)  # not [COL]
    replace = is_code & (torch.rand(input_ids.shape, device=input_ids.device) < share)
    random_codes = torch.randint_like(input_ids, layout.num_codes) + layout.code_offset
    return torch.where(replace, random_codes, input_ids)


def build_optimizer(parameters: list[tuple[str, torch.nn.Parameter]], config: OptimizerConfig):
    """AdamW without weight decay on biases and LayerNorm weights (1-D parameters)."""
    decay = [p for _, p in parameters if p.ndim >= 2]
    no_decay = [p for _, p in parameters if p.ndim < 2]
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    options = config.options()
    if config.name == "apex_fused_adam":
        try:
            from apex.optimizers import FusedAdam
        except ImportError:
            raise UserError(
                "optim.optimizer.name=apex_fused_adam needs NVIDIA Apex "
                "(https://github.com/NVIDIA/apex); use adamw instead"
            ) from None
        return FusedAdam(groups, adam_w_mode=True, **options)
    fused = use_fused_adamw(p for _, p in parameters)
    return torch.optim.AdamW(groups, fused=fused or None, **options)


class OCRModule(VersionedCheckpoints, ClipsFusedOptimizerGradients, L.LightningModule):
    checkpoint_version_key = CHECKPOINT_VERSION_KEY
    checkpoint_format_version = CHECKPOINT_FORMAT_VERSION
    checkpoint_kind = "GPT-2"
    checkpoint_legacy_version = CHECKPOINT_LEGACY_VERSION

    def __init__(self, config: dict[str, Any], vocabulary: list[str]) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.config = config_from_dict(InverseDalleConfig, config)
        self.vocabulary = Vocabulary(vocabulary, self.config.data.text_unit)
        self.layout = layout_for(self.config, self.vocabulary)
        self.model = build_model(self.config.model, self.layout)
        if self.config.train.gradient_checkpointing:
            self.model.gradient_checkpointing_enable()
        self._compiled_transformer: Callable[..., Any] | None = None  # compile_for_training
        self._predictions: list[tuple[str, str]] = []

    @classmethod
    def create(cls, config: InverseDalleConfig, vocabulary: Vocabulary) -> OCRModule:
        return cls(config_to_dict(config), vocabulary.tokens)

    def losses(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        input_ids = batch["input_ids"]  # (B, T)
        positions = torch.arange(input_ids.shape[1], device=input_ids.device)
        transformer = self._compiled_transformer or self.model.transformer
        hidden = transformer(
            input_ids=input_ids,
            attention_mask=batch["attention_mask"],
            position_ids=positions.expand_as(input_ids),
        ).last_hidden_state  # (B, T, C)
        weight = self.model.lm_head.weight
        layout = self.layout
        text = segment_loss(hidden, weight, batch["text_targets"], 0, layout.text_vocab_size)
        image = segment_loss(
            hidden, weight, batch["image_targets"], layout.row_id, layout.vocab_size
        )
        optim = self.config.optim
        total = optim.text_loss_weight * text + optim.image_loss_weight * image
        return {"loss": total, "text_loss": text, "image_loss": image}

    def compile_for_training(self) -> None:
        """torch.compile the transformer for the losses (train.compile). Its bound forward, not
        the module, so checkpoints keep their weights' names, and validation's token-by-token
        reading (its shapes change every step) stays eager."""
        self._compiled_transformer = torch.compile(self.model.transformer.forward)

    def on_fit_start(self) -> None:
        if self.config.train.compile:
            self.compile_for_training()

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        noise = self.config.data.visual_token_noise
        if noise:
            batch = {**batch, "input_ids": with_code_noise(batch["input_ids"], self.layout, noise)}
        losses = self.losses(batch)
        self.log_dict({f"train/{k}": v for k, v in losses.items()}, prog_bar=True)
        return losses["loss"]

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        losses = self.losses(batch)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, sync_dist=True)
        dataset = self.trainer.datamodule.val
        remaining = self.config.data.max_val_samples - len(self._predictions)
        indices = batch["index"][: max(remaining, 0)].tolist()
        if not indices:
            return
        grids = [string_to_grid(dataset.table.grids[i]) for i in indices]
        readings = read_grids(self.model, self.layout, grids)
        for i, reading in zip(indices, readings, strict=True):
            self._predictions.append((self.vocabulary.decode(reading.ids), dataset.table.texts[i]))

    def on_validation_epoch_end(self) -> None:
        if not self._predictions:
            return
        predictions, references = zip(*self._predictions, strict=True)
        scores = score(predictions, references)
        self.log_dict(
            {
                "val/word_accuracy": scores.word_accuracy,
                "val/cer": scores.cer,
                "val/one_minus_ned": scores.one_minus_ned,
            }
        )
        if self.trainer.is_global_zero:
            folder = Path(self.trainer.default_root_dir) / "predictions"
            folder.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(self._predictions, columns=["prediction", "reference"]).to_csv(
                folder / f"step{self.global_step}.csv", index=False
            )
        self._predictions = []

    def configure_optimizers(self) -> dict[str, Any]:
        optimizer = build_optimizer(list(self.named_parameters()), self.config.optim.optimizer)
        schedule = self.config.optim.scheduler
        scheduler = get_scheduler(
            schedule.name,
            optimizer,
            num_warmup_steps=schedule.num_warmup_steps,
            num_training_steps=schedule.num_training_steps,
        )
        return {
            "optimizer": optimizer,
            "lr_scheduler": {"scheduler": scheduler, "interval": "step"},
        }
