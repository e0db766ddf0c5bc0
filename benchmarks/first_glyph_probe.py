"""How much of a glyph's identity the image tokens carry, measured without any GPT-2.

    python benchmarks/first_glyph_probe.py TRAIN_TABLE VALIDATION_TABLE [--steps 300]

A linear probe: a softmax regression on the bag of codes that cover the first glyph (the first
0.8 × line-height of columns of a horizontal line, of rows of a vertical one), each code tagged with
its cell of a 3 × 3 split of that region, predicts the first syllable's initial consonant (19
classes). Rows whose text does not start with a Hangul syllable are left out. If the probe does
much better than the majority class, the tokens hold the answer and the reader has to learn to
find it; if not, the tokenizer is the bottleneck. Writes benchmarks/results/first_glyph_probe.json.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from inverse_dalle.data import TokenTable
from ocr_common.errors import run_cli
from ocr_common.hangul import INITIALS, is_hangul_syllable, to_jamo
from ocr_common.json_files import write_json
from vqvae.token_table import read_meta, string_to_grid

RESULTS = Path(__file__).resolve().parent / "results" / "first_glyph_probe.json"
CELLS = 9  # 3 × 3 split of the glyph region


def first_glyph_features(grid: list[list[int]]) -> list[int]:
    """Feature ids `code · 9 + cell` of the codes covering the first glyph."""
    height, width = len(grid), len(grid[0])
    if width >= height:  # horizontal line: the first columns
        rows, cols = height, min(width, math.ceil(0.8 * height))
    else:  # vertical line: the first rows
        rows, cols = min(height, math.ceil(0.8 * width)), width
    return [
        grid[r][c] * CELLS + min(2, 3 * r // rows) * 3 + min(2, 3 * c // cols)
        for r in range(rows)
        for c in range(cols)
    ]


def load(path: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(features, offsets, initial consonant) of the rows that start with a Hangul syllable."""
    table = TokenTable.open(path)
    features: list[int] = []
    offsets: list[int] = []
    labels: list[int] = []
    for grid_text, text in zip(table.grids, table.texts, strict=True):
        if not text or not is_hangul_syllable(text[0]):
            continue
        offsets.append(len(features))
        features += first_glyph_features(string_to_grid(grid_text))
        labels.append(INITIALS.index(to_jamo(text[0])[0]))
    return torch.tensor(features), torch.tensor(offsets), torch.tensor(labels)


def probe(train_path: str, validation_path: str, steps: int) -> dict:
    num_codes = read_meta(train_path).num_codes
    train, validation = load(train_path), load(validation_path)
    torch.manual_seed(0)
    model = torch.nn.EmbeddingBag(num_codes * CELLS, len(INITIALS), mode="mean")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    for _ in range(steps):  # full batch: the whole table fits easily
        loss = F.cross_entropy(model(train[0], train[1]), train[2])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():

        def accuracy(split: tuple[torch.Tensor, ...]) -> float:
            return float((model(split[0], split[1]).argmax(-1) == split[2]).float().mean())

        majority = float(torch.bincount(train[2], minlength=len(INITIALS)).max() / len(train[2]))
        return {
            "train_rows": len(train[2]),
            "validation_rows": len(validation[2]),
            "train_accuracy": round(accuracy(train), 4),
            "validation_accuracy": round(accuracy(validation), 4),
            "majority_class": round(majority, 4),
        }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("train", help="token table to fit the probe on")
    parser.add_argument("validation", help="token table to score it on")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    result = probe(args.train, args.validation, args.steps)
    print(
        f"first syllable's initial consonant (19 classes) from its codes: "
        f"{result['validation_accuracy']:.1%} on validation ({result['train_accuracy']:.1%} on "
        f"train); majority class {result['majority_class']:.1%}"
    )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    write_json(RESULTS, {**vars(args), **result})
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    run_cli(main)
