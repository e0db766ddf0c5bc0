"""Where a reader fails: teacher-forced accuracy per text position, with and without its image.

    python benchmarks/reader_diagnostics.py EXPORT_DIR TOKEN_TABLE [--rows 256]

For each text position k (0 = the first character or jamo letter) it prints how often the reader's
most likely next token is right when it is given the true text before k, and its loss; then the
same with every image replaced by another row's image of the same token length. Position 0 has no
text context, so its accuracy is what the reader recognises in the image alone; a later position
that stays right with a swapped image comes from the language prior, not from reading. Writes
benchmarks/results/reader_diagnostics.json.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F

from inverse_dalle.data import OCRDataset, TokenTable
from inverse_dalle.exported import load_export
from inverse_dalle.token_format import IGNORE
from ocr_common.atomic import write_text_atomic
from ocr_common.errors import run_cli

RESULTS = Path(__file__).resolve().parent / "results" / "reader_diagnostics.json"


def swap_images(batch: dict[str, torch.Tensor], image_end: int) -> torch.Tensor:
    """Each row's image replaced by the next row (cyclically) with the same visual length."""
    ids = batch["input_ids"].clone()
    lengths = batch["attention_mask"][:, :image_end].sum(dim=1).tolist()
    by_length: dict[int, list[int]] = defaultdict(list)
    for row, length in enumerate(lengths):
        by_length[length].append(row)
    for rows in by_length.values():
        for row, donor in zip(rows, rows[1:] + rows[:1], strict=True):
            ids[row, :image_end] = batch["input_ids"][donor, :image_end]
    return ids


@torch.inference_mode()
def position_scores(export_dir: str, table_path: str, rows: int, batch_size: int = 32) -> dict:
    exported = load_export(export_dir)
    model, layout = exported.model, exported.layout
    table = TokenTable.open(table_path)
    dataset = OCRDataset(table, layout, exported.vocabulary)
    text_weight = model.lm_head.weight[: layout.text_vocab_size]
    totals: dict[str, dict[int, list[float]]] = {
        "image": defaultdict(lambda: [0, 0.0, 0.0]),
        "swapped": defaultdict(lambda: [0, 0.0, 0.0]),
    }
    for start in range(0, min(rows, len(dataset)), batch_size):
        items = [dataset[i] for i in range(start, min(start + batch_size, rows, len(dataset)))]
        batch = {key: torch.stack([item[key] for item in items]) for key in items[0]}
        positions = torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"])
        for name, ids in (
            ("image", batch["input_ids"]),
            ("swapped", swap_images(batch, layout.max_visual_length)),
        ):
            hidden = model.transformer(
                input_ids=ids, attention_mask=batch["attention_mask"], position_ids=positions
            ).last_hidden_state
            for k in range(layout.text_length - 1):
                column = layout.max_visual_length + k
                targets = batch["text_targets"][:, column]
                keep = targets != IGNORE
                if not bool(keep.any()):
                    continue
                logits = hidden[keep, column] @ text_weight.T
                count, correct, loss = totals[name][k]
                totals[name][k] = [
                    count + int(keep.sum()),
                    correct + float((logits.argmax(-1) == targets[keep]).sum()),
                    loss + float(F.cross_entropy(logits, targets[keep], reduction="sum")),
                ]
    return {
        name: [
            {"position": k, "n": n, "accuracy": round(c / n, 4), "loss": round(s / n, 3)}
            for k, (n, c, s) in sorted(per_position.items())
        ]
        for name, per_position in totals.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("export", help="exported reader directory (gpt2/src/export.py)")
    parser.add_argument("table", help="token table made with the export's VQVAE")
    parser.add_argument("--rows", type=int, default=256)
    args = parser.parse_args()
    scores = position_scores(args.export, args.table, args.rows)
    print(f"{'position':>8} {'n':>5} {'accuracy':>9} {'loss':>6}   swapped image: accuracy  loss")
    for own, other in zip(scores["image"], scores["swapped"], strict=True):
        print(
            f"{own['position']:>8} {own['n']:>5} {own['accuracy']:>9.1%} {own['loss']:>6.2f}"
            f"   {other['accuracy']:>24.1%} {other['loss']:>5.2f}"
        )
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    result = {"export": args.export, "table": args.table, "rows": args.rows, **scores}
    write_text_atomic(RESULTS, json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    run_cli(main)
