"""One training run: token tables → vocabulary → GPT-2 → Lightning Trainer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import lightning as L
from lightning.pytorch.callbacks import Callback

from inverse_dalle.checkpoint import check_resume_point
from inverse_dalle.code_embeddings import codebook_vectors, initialize_code_embeddings
from inverse_dalle.config import FinetuneConfig, GPT2TrainConfig, InverseDalleConfig
from inverse_dalle.data import (
    OCRDataModule,
    OCRDataset,
    count_fed_by_columns,
    load_token_table,
    resolve_layout,
)
from inverse_dalle.depth_growth import grown_state_dict
from inverse_dalle.exported import ExportedModel, load_export
from inverse_dalle.layout_growth import grown_layout_state_dict, grows_layout
from inverse_dalle.lightning_module import OCRModule, layout_for
from inverse_dalle.table_reading import check_token_table
from inverse_dalle.token_format import COLUMNS
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.config import save_config
from ocr_common.errors import UserError
from ocr_common.trainer import ResumePoint, build_trainer, read_resume_point
from vqvae.token_table import check_made_by
from vqvae.tokenizer import ImageTokenizer


@dataclass(frozen=True)
class TrainReport:
    run_dir: Path
    num_train: int
    num_truncated: int  # training texts longer than data.max_text_length, cut to fit
    num_unknown_characters: int


def train(
    config: InverseDalleConfig,
    run_dir: str | os.PathLike,
    resume_from: str | os.PathLike | None = None,
    callbacks: list[Callback] = (),
) -> TrainReport:
    """Train (on every rank under DDP); `resume_from` continues a run exactly where its checkpoint
    left it: weights, optimiser, LR schedule, step, epoch and the position within the epoch."""
    L.seed_everything(config.train.seed, workers=True)
    resume = read_resume_point(resume_from) if resume_from else None
    run_dir = Path(run_dir)
    source = load_export(config.model.init_from) if config.model.init_from else None
    if source is not None:
        check_token_table(source, Path(config.data.train_dataset))
    config = resolve_layout(config, source)  # the sizes the config leaves to the table
    train_table = load_token_table(config.data.train_dataset, config.data)
    if source is not None:
        vocabulary = source.vocabulary  # token ids must mean what they meant to the source
    else:
        vocabulary = Vocabulary.build(train_table.texts, config.data.text_unit)
    layout = layout_for(config, vocabulary)
    train_set = OCRDataset(train_table, layout, vocabulary)
    val_set = None
    if config.data.val_dataset:
        val_set = OCRDataset(
            load_token_table(config.data.val_dataset, config.data), layout, vocabulary
        )
    if train_set.num_truncated:
        print(
            f"note: {train_set.num_truncated} training text(s) longer than "
            f"data.max_text_length={config.data.max_text_length} were truncated"
        )
    if layout.reading_order == COLUMNS:
        fed = count_fed_by_columns(train_table, layout)
        print(
            f"reading order columns: {fed} of {len(train_table)} training grids fed by columns, "
            f"the rest by rows (taller, or columns over data.max_visual_length="
            f"{layout.max_visual_length})"
        )
    module = OCRModule.create(config, vocabulary)
    if source is not None and resume is None:
        start_from_export(module, source)
    if config.model.init_code_embeddings and resume is None:
        tokenizer = ImageTokenizer.from_pretrained(config.data.vqvae)
        check_made_by(config.data.train_dataset, tokenizer.sha256)  # else the codes mean nothing
        initialize_code_embeddings(module.model, layout, codebook_vectors(tokenizer))
    fit(module, train_set, val_set, config.train, run_dir, config, resume, callbacks)
    return TrainReport(run_dir, len(train_set), train_set.num_truncated, train_set.num_unknown)


def start_from_export(module: OCRModule, source: ExportedModel) -> None:
    """Load an exported reader's weights into `module`, whose config describes the same model,
    the same one with more layers, or the same one in a larger budget or by columns
    (layout_growth.py)."""
    state = source.model.state_dict()
    if grows_layout(source.layout, module.layout):
        state = grown_layout_state_dict(
            state, source.layout, module.layout, module.model.config.n_positions
        )
    elif module.layout != source.layout:
        raise UserError(
            f"model.init_from {source.directory}: its layout {source.layout} differs from this "
            f"config's {module.layout} (data.max_visual_length, data.max_text_length, "
            "data.num_visual_tokens, data.reading_order)"
        )
    source_layers, layers = source.model.config.n_layer, module.model.config.n_layer
    if layers > source_layers:  # a deeper config grows the source (depth_growth.py)
        state = grown_state_dict(state, source_layers, layers)
    try:
        module.model.load_state_dict(state)
    except RuntimeError as error:
        raise UserError(
            f"model.init_from {source.directory}: its GPT-2 differs from model.* "
            f"({str(error).strip().splitlines()[-1].strip()})"
        ) from None


def fit(
    module: OCRModule,
    train_set: OCRDataset,
    val_set: OCRDataset | None,
    train_config: GPT2TrainConfig,
    run_dir: Path,
    run_config: InverseDalleConfig | FinetuneConfig,
    resume: ResumePoint | None = None,
    callbacks: list[Callback] = (),
) -> L.Trainer:
    """Fit `module` (reading or drawing) with the seeded, rank-sharded, resumable batches of
    OCRDataModule; rank 0 saves `run_config` (the config as the user wrote it) in `run_dir`."""
    data = OCRDataModule(
        train_set, val_set, train_config.batch_size, train_config.num_workers, train_config.seed
    )
    if resume is not None:
        check_resume_point(resume, module)
    trainer = build_trainer(train_config, run_dir, callbacks, resume=resume)
    if trainer.is_global_zero:
        save_config(run_config, run_dir / "config.yaml")
    trainer.fit(module, datamodule=data, ckpt_path=resume.path if resume else None)
    return trainer
