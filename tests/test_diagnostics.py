"""The reader diagnostics and the first-glyph probe (benchmarks/) on tiny inputs."""

from __future__ import annotations

import importlib.util
import sys
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pytest
import torch

from inverse_dalle.exported import load_export
from inverse_dalle.vocabulary import BOS_ID, EOS_ID
from ocr_common.tables import read_table, write_table
from vqvae.token_table import TokenTableMeta, grid_to_string, string_to_grid, write_meta

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
    # The same figures from the plain model, one unpadded sequence at a time: the text after
    # `<s>` scored against the full output layer cut to the text rows.
    exported = load_export(pipeline["export"])
    layout = exported.layout
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    n, right, loss = defaultdict(int), defaultdict(int), defaultdict(float)
    for grid, text in zip(table["visual_tokens"], table["text"], strict=True):
        visual = layout.visual_ids(string_to_grid(grid))
        targets = [*exported.vocabulary.encode(text)[: layout.max_text_length], EOS_ID]
        ids = torch.tensor([[*visual, BOS_ID, *targets[:-1]]])
        # the text starts at max_visual_length, as in training, whatever the image's length
        positions = [
            *range(len(visual)),
            *range(layout.max_visual_length, layout.max_visual_length + len(targets)),
        ]
        with torch.no_grad():
            logits = exported.model(input_ids=ids, position_ids=torch.tensor([positions])).logits
        log_probs = logits[0, len(visual) :, : layout.text_vocab_size].log_softmax(-1)
        for k, target in enumerate(targets):
            n[k] += 1
            right[k] += int(log_probs[k].argmax()) == target
            loss[k] -= float(log_probs[k, target])
    assert [p["n"] for p in scores["image"]] == [n[k] for k in sorted(n)]
    assert scores["image"][0]["n"] == 8  # every row predicts its first token
    assert [p["accuracy"] for p in scores["image"]] == [
        round(right[k] / n[k], 4) for k in sorted(n)
    ]
    assert [p["loss"] for p in scores["image"]] == pytest.approx(
        [loss[k] / n[k] for k in sorted(n)],
        abs=1e-3,  # rounded to 3 decimals
    )


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
