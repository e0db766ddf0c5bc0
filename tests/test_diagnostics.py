"""The reader diagnostics and the first-glyph probe (benchmarks/) on tiny inputs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pandas as pd
import torch

from ocr_common.tables import write_table
from vqvae.token_table import TokenTableMeta, grid_to_string, write_meta

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_swapped_images_come_from_rows_of_the_same_length() -> None:
    swap_images = load_script("reader_diagnostics").swap_images
    ids = torch.tensor([[1, 1, 0, 9], [2, 2, 0, 9], [3, 3, 3, 9], [4, 4, 0, 9]])
    mask = torch.tensor([[1, 1, 0, 1], [1, 1, 0, 1], [1, 1, 1, 1], [1, 1, 0, 1]])
    swapped = swap_images({"input_ids": ids, "attention_mask": mask}, image_end=3)
    # rows 0, 1, 3 have 2 image tokens and trade images in a cycle; row 2 is alone in its length
    assert swapped[:, :3].tolist() == [[2, 2, 0], [4, 4, 0], [3, 3, 3], [1, 1, 0]]
    assert torch.equal(swapped[:, 3:], ids[:, 3:])  # text untouched


def test_position_scores_cover_every_text_position(pipeline: dict[str, Path]) -> None:
    diagnostics = load_script("reader_diagnostics")
    scores = diagnostics.position_scores(
        str(pipeline["export"]), str(pipeline["folder"] / "validation.parquet"), rows=8
    )
    assert [p["position"] for p in scores["image"]] == [p["position"] for p in scores["swapped"]]
    assert scores["image"][0]["n"] == 8  # every row predicts its first token
    assert all(0.0 <= p["accuracy"] <= 1.0 and p["loss"] > 0 for p in scores["image"])


def test_first_glyph_region_follows_the_reading_direction() -> None:
    features = load_script("first_glyph_probe").first_glyph_features
    wide = [[r * 10 + c for c in range(10)] for r in range(2)]  # 2 rows × 10 columns
    codes = sorted({f // 9 for f in features(wide)})
    assert codes == [0, 1, 10, 11]  # the first ceil(0.8·2) = 2 columns of both rows
    tall = [[r * 10 + c for c in range(2)] for r in range(10)]
    assert sorted({f // 9 for f in features(tall)}) == [0, 1, 10, 11]  # first 2 rows


def test_probe_finds_a_consonant_that_the_codes_spell(tmp_path: Path) -> None:
    """Code 1 always draws ㄱ, code 2 always ㄴ: the probe must read them perfectly."""
    probe = load_script("first_glyph_probe").probe
    texts = ["가", "나"] * 20
    rows = [
        {
            "img_path": f"{i}.png",
            "text": t,
            "visual_tokens": grid_to_string([[1 if t == "가" else 2] * 3] * 2),
        }
        for i, t in enumerate(texts)
    ]
    for split in ("train", "validation"):
        path = tmp_path / f"{split}.parquet"
        write_table(pd.DataFrame(rows), path)
        write_meta(path, TokenTableMeta(4, 8, 32, "x", len(rows), 0, 0.0))
    result = probe(str(tmp_path / "train.parquet"), str(tmp_path / "validation.parquet"), steps=50)
    assert result["validation_accuracy"] == 1.0 and result["majority_class"] == 0.5
