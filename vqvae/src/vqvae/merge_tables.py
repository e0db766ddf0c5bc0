"""Token tables made with one VQVAE, as one: train on more than one tokenising run made.

Rows keep their order (first table first); `img_path` is rewritten relative to the output's folder,
as `tokenize_table` writes it, so the images stay reachable.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths, write_table
from vqvae.token_table import TokenTableMeta, read_meta, write_meta


def merge_token_tables(
    paths: Sequence[str | os.PathLike], output: str | os.PathLike
) -> TokenTableMeta:
    """Concatenate `paths` into `output` (+ `.meta.json`); refuse tables of different VQVAEs."""
    if len(paths) < 2:
        raise UserError("give at least two token tables to merge")
    metas = [read_meta(path) for path in paths]
    first = metas[0]
    for path, meta in zip(paths[1:], metas[1:], strict=True):
        if (meta.vqvae_sha256, meta.max_visual_length) != (
            first.vqvae_sha256,
            first.max_visual_length,
        ):
            raise UserError(
                f"{path} was made by another VQVAE or token budget than {paths[0]} "
                f"({meta.vqvae_sha256[:12]}, {meta.max_visual_length} tokens against "
                f"{first.vqvae_sha256[:12]}, {first.max_visual_length})"
            )
    folder = Path(output).resolve().parent
    tables = []
    for path in paths:
        table = read_table(path, required=("img_path", "text", "visual_tokens"))
        table["img_path"] = [
            os.path.relpath(image, folder) for image in resolve_image_paths(table, path)
        ]
        tables.append(table)
    merged = pd.concat(tables, ignore_index=True)
    rows = sum(meta.num_rows for meta in metas)
    meta = TokenTableMeta(
        num_codes=first.num_codes,
        downsample=first.downsample,
        max_visual_length=first.max_visual_length,
        vqvae_sha256=first.vqvae_sha256,
        num_rows=len(merged),
        num_skipped=sum(meta.num_skipped for meta in metas),
        wasted_slot_share=round(
            sum(meta.wasted_slot_share * meta.num_rows for meta in metas) / max(rows, 1), 6
        ),
    )
    write_table(merged, output)
    write_meta(output, meta)
    return meta
