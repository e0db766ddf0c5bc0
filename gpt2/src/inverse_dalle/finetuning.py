"""Text-to-image finetuning: an exported reader learns to draw from text-first sequences.

The reader's weights, vocabulary and sequence layout carry over unchanged; only the order of the
sequence flips (token_format.text_first_example). The losses are the reader's own (text-LM plus
image-LM, each over its own output rows), and the result is exported in the reader's format with
`order: text_to_image` and sampling defaults in generation_config.json.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from inverse_dalle.config import FinetuneConfig, InverseDalleConfig
from inverse_dalle.data import OCRDataset, load_token_table
from inverse_dalle.export import export_model
from inverse_dalle.export_format import FORMAT_FILE, VQVAE_DIR
from inverse_dalle.exported import ExportedModel, load_export
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.table_reading import check_token_table
from inverse_dalle.token_format import ROWS, TEXT_TO_IMAGE, drop_prompts, text_first_example
from inverse_dalle.training import fit
from ocr_common.atomic import check_replaceable
from ocr_common.config import config_from_dict, config_to_dict
from ocr_common.errors import UserError
from ocr_common.trainer import read_resume_point


class TextFirstDataset(OCRDataset):
    """The reader's dataset (vocabulary, truncation and unknown-character counts), text first."""

    sequence = staticmethod(text_first_example)


class TextToImageModule(OCRModule):
    """The reader's module; validation scores the losses only (reading is not its job now).

    Training drops the prompt of a `prompt_dropout` share of the sequences (classifier-free
    guidance), drawn from (seed, step, rank): a resumed run drops the same ones.
    """

    def __init__(
        self, config: dict[str, Any], vocabulary: list[str], prompt_dropout: float = 0.0
    ) -> None:
        super().__init__(config, vocabulary)
        self.prompt_dropout = prompt_dropout

    def training_batch(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The batch as trained on: some prompts replaced by the empty one."""
        if not self.prompt_dropout:
            return batch
        rng = np.random.default_rng([self.config.train.seed, self.global_step, self.global_rank])
        drop = torch.from_numpy(rng.random(len(batch["input_ids"])) < self.prompt_dropout)
        return drop_prompts(self.layout, batch, drop.to(batch["input_ids"].device))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        return super().training_step(self.training_batch(batch), batch_idx)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        losses = self.losses(batch)
        self.log_dict({f"val/{k}": v for k, v in losses.items()}, sync_dist=True)


def training_config(config: FinetuneConfig, source: ExportedModel) -> InverseDalleConfig:
    """The reader's training config with this run's tables, optimiser and runtime settings."""
    reader = config_from_dict(InverseDalleConfig, source.metadata["training_config"])
    order = reader.data.reading_order
    if order != ROWS:  # image_sampling and grid_repair draw row by row
        raise UserError(
            f"{config.model}: a reader trained with data.reading_order={order} cannot be "
            "finetuned into a drawer, which draws row by row: finetune one read by rows"
        )
    data = replace(
        reader.data,
        train_dataset=config.data.train_dataset,
        val_dataset=config.data.val_dataset,
        vqvae=str(source.directory / VQVAE_DIR),  # bundled again in the new export
        visual_token_noise=0.0,  # a reader-training option: a drawer's codes are its targets too
    )
    return replace(reader, data=data, optim=config.optim, train=config.train)


def text_first_dataset(
    path: str, source: ExportedModel, run_config: InverseDalleConfig
) -> TextFirstDataset:
    check_token_table(source, Path(path))  # the codebook and the VQVAE the reader was trained on
    table = load_token_table(path, run_config.data)
    return TextFirstDataset(table, source.layout, source.vocabulary)


@dataclass(frozen=True)
class FinetuneReport:
    run_dir: Path
    export_dir: Path
    num_train: int
    num_truncated: int  # texts longer than max_text_length, cut to fit
    num_unknown_characters: int  # characters outside the reader's vocabulary (trained as <unk>)


def finetune(
    config: FinetuneConfig,
    run_dir: str | os.PathLike,
    export_dir: str | os.PathLike,
    resume_from: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> FinetuneReport:
    check_replaceable(Path(export_dir), FORMAT_FILE, overwrite)  # refused now, not after training
    L.seed_everything(config.train.seed, workers=True)
    resume = read_resume_point(resume_from) if resume_from else None
    source = load_export(config.model)
    if source.tokenizer is None:
        raise UserError(f"{config.model}: no bundled vqvae/, so a finetuned model could not draw")
    run_config = training_config(config, source)
    train_set = text_first_dataset(config.data.train_dataset, source, run_config)
    val_set = None
    if config.data.val_dataset:
        val_set = text_first_dataset(config.data.val_dataset, source, run_config)
    module = TextToImageModule(
        config_to_dict(run_config), source.vocabulary.tokens, config.data.prompt_dropout
    )
    if module.layout != source.layout:
        raise UserError(f"{config.model}: inverse_dalle.json does not match its training config")
    module.model.load_state_dict(source.model.state_dict())
    trainer = fit(module, train_set, val_set, config.train, Path(run_dir), config, resume)
    if trainer.is_global_zero:
        export_model(
            module,
            run_config,
            export_dir,
            order=TEXT_TO_IMAGE,
            sampling=config.sampling,
            overwrite=overwrite,
        )
    return FinetuneReport(
        Path(run_dir),
        Path(export_dir),
        len(train_set),
        train_set.num_truncated,
        train_set.num_unknown,
    )
