"""Test-time augmentation's accuracy by number of views, from one pass over the views.

    python benchmarks/tta_curve.py pretrained/korean-ocr-tiny data/signs/test-heldout-fonts.csv \
        --views 16 [--beams 1] [--output benchmarks/results/tta.json]

Reads each image's first N views once (vqvae.images.augmented_view: view 0 is the image itself),
then scores the vote (inverse_dalle.voting) over the first n views for n = 1, 2, 4, … N, overall
and per orientation, with the share of images some view read right (what a perfect vote would
reach) and the reading time per view. `--tta n` of predict/evaluate gives the same readings.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from inverse_dalle import InverseDalleOCR
from inverse_dalle.voting import vote
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.metrics import score_by_group
from ocr_common.tables import read_table, resolve_image_paths


def view_counts(views: int) -> list[int]:
    """1, 2, 4, … up to `views`, and `views` itself."""
    counts = [1]
    while counts[-1] * 2 < views:
        counts.append(counts[-1] * 2)
    return sorted({*counts, views})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="exported reader with its VQVAE")
    parser.add_argument("table", type=Path, help="dataset table: img_path,text[,orientation]")
    parser.add_argument("--views", type=int, default=16)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    parser.add_argument("--output", type=Path, help="JSON to write")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = read_table(args.table, required=("img_path", "text"))
    files = resolve_image_paths(rows, args.table)
    groups = list(rows["orientation"].astype(str)) if "orientation" in rows else ["all"] * len(rows)
    ocr = InverseDalleOCR.from_pretrained(args.model_dir, "cpu", beams=args.beams, tta=args.views)
    started = time.perf_counter()
    views = ocr.tokenize_views(files)  # each file decoded once
    if None in views:
        raise UserError(f"{args.table}: {views.count(None)} image(s) cannot be read")
    per_view = []  # per view: (text, confidence) of every image
    for view in range(args.views):
        readings = ocr.read_grids([grids[view] for grids in views])
        per_view.append([(ocr.text(r), r.confidence) for r in readings])
    seconds_per_view = (time.perf_counter() - started) / args.views
    references = list(rows["text"])
    curve = {}
    for count in view_counts(args.views):
        texts = [vote(view[i] for view in per_view[:count])[0] for i in range(len(files))]
        scores = score_by_group(texts, references, groups)
        some_view_right = sum(
            any(view[i][0] == reference for view in per_view[:count])
            for i, reference in enumerate(references)
        ) / len(references)
        curve[count] = {
            "scores": {group: value.as_dict() for group, value in scores.items()},
            "some_view_right": some_view_right,
        }
        by_group = "  ".join(f"{g} {v.word_accuracy:.3f}" for g, v in scores.items())
        print(f"{count:>3} view(s): {by_group}  (some view right: {some_view_right:.3f})")
    rate = len(files) / seconds_per_view
    print(f"{len(files)} images, {seconds_per_view:.1f} s per view ({rate:.0f} images/s)")
    if args.output:
        write_json(
            args.output,
            {
                "model_dir": str(args.model_dir),
                "table": str(args.table),
                "beams": args.beams,
                "seconds_per_view": seconds_per_view,
                "by_views": curve,
            },
        )


if __name__ == "__main__":
    run_cli(main)
