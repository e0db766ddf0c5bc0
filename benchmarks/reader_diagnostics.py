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
from collections import defaultdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import default_collate

from inverse_dalle.data import OCRDataset, TokenTable
from inverse_dalle.exported import load_export
from inverse_dalle.table_reading import check_token_table
from inverse_dalle.token_format import IGNORE
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json

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
    check_token_table(exported, Path(table_path))  # its codebook, made by its VQVAE
    model, layout = exported.model, exported.layout
    dataset = OCRDataset(TokenTable.open(table_path), layout, exported.vocabulary)
    text_weight = model.lm_head.weight[: layout.text_vocab_size]
    text = slice(layout.max_visual_length, layout.sequence_length - 1)  # <s> … predict t1 … </s>
    width = text.stop - text.start
    totals = {name: torch.zeros(3, width) for name in ("image", "swapped")}  # n, right, loss
    for start in range(0, min(rows, len(dataset)), batch_size):
        stop = min(start + batch_size, rows, len(dataset))
        batch = default_collate([dataset[i] for i in range(start, stop)])
        positions = torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"])
        targets = batch["text_targets"][:, text]  # (B, width)
        keep = targets != IGNORE
        for name, ids in (
            ("image", batch["input_ids"]),
            ("swapped", swap_images(batch, layout.max_visual_length)),
        ):
            hidden = model.transformer(
                input_ids=ids, attention_mask=batch["attention_mask"], position_ids=positions
            ).last_hidden_state
            logits = hidden[:, text] @ text_weight.T  # (B, width, V_text)
            loss = F.cross_entropy(
                logits.transpose(1, 2), targets.clamp_min(0), reduction="none"
            )  # (B, width); IGNORE rows are masked out below
            right = logits.argmax(-1) == targets
            totals[name] += torch.stack([keep, right & keep, loss * keep]).sum(dim=1).float()
    return {
        name: [
            {
                "position": k,
                "n": int(n),
                "accuracy": round(float(c / n), 4),
                "loss": round(float(s / n), 3),
            }
            for k, (n, c, s) in enumerate(total.T.tolist())
            if n
        ]
        for name, total in totals.items()
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
    write_json(RESULTS, result)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    run_cli(main)
