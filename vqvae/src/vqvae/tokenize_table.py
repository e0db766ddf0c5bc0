"""Tokenise a dataset table into a token table (+ `.meta.json`): what `src/predict.py` runs.

Runs through Lightning's `predict` on any number of devices and nodes. Each rank encodes whole
batches dealt to it round-robin (the same batches a single process would encode) and writes its
tokens to a shard named only once complete; global rank 0 merges the shards in dataset order,
so the table is identical to a single-process run, and writes it atomically.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L
import pandas as pd
import torch
from lightning.pytorch.callbacks import BasePredictionWriter

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths, write_table
from vqvae.data import TemplateDataset, template_loader
from vqvae.model import VQVAE
from vqvae.shapes import wasted_slot_share
from vqvae.token_table import TokenTableMeta, grid_to_string, write_meta
from vqvae.tokenizer import ImageTokenizer


class _EncodeTask(L.LightningModule):
    def __init__(self, model: VQVAE) -> None:
        super().__init__()
        self.model = model

    def predict_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> dict[str, list]:
        if not batch["images"].numel():  # every image of the batch failed to decode
            return {"indices": [], "tokens": []}
        grids = self.model.encode(batch["images"]).tolist()
        return {"indices": batch["indices"].tolist(), "tokens": list(map(grid_to_string, grids))}


class _TokenizeData(L.LightningDataModule):
    def __init__(self, data: TemplateDataset, batch_size: int, num_workers: int) -> None:
        super().__init__()
        self.data = data
        self.batch_size = batch_size
        self.num_workers = num_workers

    def predict_dataloader(self) -> torch.utils.data.DataLoader:
        return template_loader(
            self.data,
            self.batch_size,
            self.num_workers,
            num_replicas=self.trainer.world_size,
            rank=self.trainer.global_rank,
            split_batches=False,
        )


def shard_folder(output: Path) -> Path:
    return output.with_name(f".{output.name}.shards")


def _shard_path(folder: Path, rank: int) -> Path:
    return folder / f"rank{rank:05d}.parquet"


class ShardWriter(BasePredictionWriter):
    """Collects one rank's tokens and writes them to its shard (temp-named until complete)."""

    def __init__(self, folder: Path) -> None:
        super().__init__(write_interval="batch")
        self.folder = folder
        self.indices: list[int] = []
        self.tokens: list[str] = []

    def setup(self, trainer: L.Trainer, module: L.LightningModule, stage: str) -> None:
        if trainer.is_global_zero:  # shards of an earlier, killed run must not be merged
            shutil.rmtree(self.folder, ignore_errors=True)
        trainer.strategy.barrier("clear shards")

    def write_on_batch_end(
        self, trainer, module, prediction: dict[str, list], batch_indices, batch, batch_idx, dl_idx
    ) -> None:
        self.indices += prediction["indices"]
        self.tokens += prediction["tokens"]

    def on_predict_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        shard = pd.DataFrame({"index": self.indices, "visual_tokens": self.tokens})
        write_table(shard, _shard_path(self.folder, trainer.global_rank))
        trainer.strategy.barrier("shards written")  # rank 0 merges once every shard exists


def _merge_shards(folder: Path, world_size: int) -> dict[int, str]:
    tokens: dict[int, str] = {}
    for rank in range(world_size):
        shard = pd.read_parquet(_shard_path(folder, rank))
        tokens.update(zip(shard["index"].tolist(), shard["visual_tokens"].tolist(), strict=True))
    return tokens


def encode_dataset(
    model: VQVAE,
    data: TemplateDataset,
    output: Path,
    *,
    batch_size: int,
    num_workers: int,
    progress: bool,
    devices: Any,
    accelerator: str,
    num_nodes: int,
    strategy: str,
) -> dict[int, str] | None:
    """{dataset index: token string} on global rank 0 (None on the other ranks)."""
    folder = shard_folder(output)
    trainer = L.Trainer(
        accelerator=accelerator,
        devices=devices,
        num_nodes=num_nodes,
        strategy=strategy,
        precision="32-true",  # half precision can flip the nearest code of near-ties
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=False,
        enable_progress_bar=progress,
        use_distributed_sampler=False,  # ShardedBatchSampler deals batches to ranks itself
        callbacks=[ShardWriter(folder)],
    )
    trainer.predict(
        _EncodeTask(model),
        datamodule=_TokenizeData(data, batch_size, num_workers),
        return_predictions=False,
    )
    if not trainer.is_global_zero:
        return None
    tokens = _merge_shards(folder, trainer.world_size)
    shutil.rmtree(folder)
    return tokens


@dataclass
class TokenizeReport:
    num_rows: int
    num_skipped: int
    wasted_slot_share: float  # dynamic templates
    square_wasted_slot_share: float  # if every image were padded to a square


def tokenize_table(
    tokenizer: ImageTokenizer,
    dataset: str | os.PathLike,
    output: str | os.PathLike,
    *,
    batch_size: int = 64,
    num_workers: int = 0,
    num_repeats: int = 1,
    progress: bool = True,
    devices: Any = 1,
    accelerator: str = "cpu",
    num_nodes: int = 1,
    strategy: str = "auto",
) -> TokenizeReport | None:
    """Write `output` (CSV/Parquet by suffix) and its sidecar; unreadable images are skipped.

    With several devices or nodes this runs on every rank (launch it as for training); the
    report comes back on global rank 0, None elsewhere.
    """
    output = Path(output)
    if output.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(
            f"{output}: unsupported table format '{output.suffix}' (use .csv or .parquet)"
        )
    table = read_table(dataset)
    paths = resolve_image_paths(table, dataset)
    data = TemplateDataset(
        paths,
        tokenizer.max_visual_length,
        tokenizer.downsample,
        repeats=num_repeats,
        channels=tokenizer.model.num_channels,
    )
    tokens = encode_dataset(
        tokenizer.model,
        data,
        output,
        batch_size=batch_size,
        num_workers=num_workers,
        progress=progress,
        devices=devices,
        accelerator=accelerator,
        num_nodes=num_nodes,
        strategy=strategy,
    )
    if tokens is None:
        return None
    # An image whose decoding failed in any repeat is dropped entirely, so TTA rows stay complete.
    failed = {index // num_repeats for index in range(len(data)) if index not in tokens}
    rows, repeats, strings = [], [], []
    for index in sorted(tokens):
        image_index, repeat = divmod(index, num_repeats)
        if image_index in failed:
            continue
        rows.append(data.rows[image_index])
        repeats.append(repeat)
        strings.append(tokens[index])
    result = table.iloc[rows].reset_index(drop=True)
    folder = output.resolve().parent
    result["img_path"] = [os.path.relpath(paths[row].resolve(), folder) for row in rows]
    result["visual_tokens"] = strings
    if num_repeats > 1:
        result["repeat"] = repeats
    good_sizes = [s for i, s in enumerate(data.sizes) if i not in failed]
    report = TokenizeReport(
        num_rows=len(result),
        num_skipped=data.num_skipped + len(failed),
        wasted_slot_share=wasted_slot_share(
            good_sizes, tokenizer.max_visual_length, tokenizer.downsample
        ),
        square_wasted_slot_share=wasted_slot_share(
            good_sizes, tokenizer.max_visual_length, tokenizer.downsample, square=True
        ),
    )
    write_table(result, output)
    write_meta(
        output,
        TokenTableMeta(
            num_codes=tokenizer.num_codes,
            downsample=tokenizer.downsample,
            max_visual_length=tokenizer.max_visual_length,
            vqvae_sha256=tokenizer.sha256,
            num_rows=report.num_rows,
            num_skipped=report.num_skipped,
            wasted_slot_share=round(report.wasted_slot_share, 6),
        ),
    )
    return report
