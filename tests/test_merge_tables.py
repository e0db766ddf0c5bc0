"""Merging token tables: rows in order, images still found, tables of another VQVAE refused."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths, write_table
from vqvae.merge_tables import merge_token_tables
from vqvae.token_table import TokenTableMeta, read_meta, write_meta


def _table(folder: Path, texts: list[str], sha: str = "a" * 64, wasted: float = 0.1) -> Path:
    folder.mkdir(parents=True)
    path = folder / "train.parquet"
    table = pd.DataFrame(
        {
            "img_path": [f"images/{i}.png" for i in range(len(texts))],
            "text": texts,
            "visual_tokens": ["3 4\t5 6"] * len(texts),
        }
    )
    write_table(table, path)
    write_meta(path, TokenTableMeta(1024, 8, 128, sha, len(texts), 1, wasted))
    return path


def test_merged_table_keeps_rows_images_and_counts(tmp_path: Path) -> None:
    first = _table(tmp_path / "a", ["가", "나"], wasted=0.1)
    second = _table(tmp_path / "b" / "deeper", ["다"], wasted=0.4)
    output = tmp_path / "merged" / "train.parquet"
    meta = merge_token_tables([first, second], output)
    merged = read_table(output, required=("img_path", "text", "visual_tokens"))
    assert merged["text"].tolist() == ["가", "나", "다"]
    expected = [*resolve_image_paths(read_table(first), first)]
    expected += resolve_image_paths(read_table(second), second)
    assert [p.resolve() for p in resolve_image_paths(merged, output)] == expected
    assert read_meta(output) == meta
    assert (meta.num_rows, meta.num_skipped) == (3, 2)
    assert meta.wasted_slot_share == pytest.approx((0.1 * 2 + 0.4) / 3)


def test_tables_of_another_vqvae_are_refused(tmp_path: Path) -> None:
    first = _table(tmp_path / "a", ["가"])
    other = _table(tmp_path / "b", ["나"], sha="b" * 64)
    with pytest.raises(UserError, match="another VQVAE"):
        merge_token_tables([first, other], tmp_path / "merged.parquet")
    assert not (tmp_path / "merged.parquet").exists()
