"""Tokenise a dataset table into a token table (+ `.meta.json`): what `src/predict.py` runs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader, SequentialSampler
from tqdm import tqdm

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths, write_table
from vqvae.data import TemplateBatchSampler, TemplateDataset, collate_same_template
from vqvae.shapes import wasted_slot_share
from vqvae.token_table import TokenTableMeta, grid_to_string, write_meta
from vqvae.tokenizer import ImageTokenizer


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
) -> TokenizeReport:
    """Write `output` (CSV/Parquet by suffix) and its sidecar; unreadable images are skipped."""
    output = Path(output)
    if output.suffix.lower() not in (".csv", ".parquet"):
        raise UserError(
            f"{output}: unsupported table format '{output.suffix}' (use .csv or .parquet)"
        )
    table = read_table(dataset)
    paths = resolve_image_paths(table, dataset)
    data = TemplateDataset(paths, tokenizer.max_length, tokenizer.downsample, repeats=num_repeats)
    loader = DataLoader(
        data,
        batch_sampler=TemplateBatchSampler(
            SequentialSampler(data), batch_size, False, data.templates
        ),
        collate_fn=collate_same_template,
        num_workers=num_workers,
    )
    tokens: dict[int, str] = {}
    device = next(tokenizer.model.parameters()).device
    with torch.inference_mode(), tqdm(total=len(data), disable=not progress, unit="img") as bar:
        for batch in loader:
            if batch["images"].numel():
                grids = tokenizer.model.encode(batch["images"].to(device)).tolist()
                for index, grid in zip(batch["indices"].tolist(), grids, strict=False):
                    tokens[index] = grid_to_string(grid)
            bar.update(len(batch["indices"]) + int(batch["skipped"]))
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
        wasted_slot_share=wasted_slot_share(good_sizes, tokenizer.max_length, tokenizer.downsample),
        square_wasted_slot_share=wasted_slot_share(
            good_sizes, tokenizer.max_length, tokenizer.downsample, square=True
        ),
    )
    write_table(result, output)
    write_meta(
        output,
        TokenTableMeta(
            num_embeddings=tokenizer.num_embeddings,
            downsample=tokenizer.downsample,
            max_length=tokenizer.max_length,
            vqvae_sha256=tokenizer.sha256,
            num_rows=report.num_rows,
            num_skipped=report.num_skipped,
            wasted_slot_share=round(report.wasted_slot_share, 6),
        ),
    )
    return report
