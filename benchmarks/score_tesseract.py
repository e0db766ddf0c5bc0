"""Tesseract 5 on any dataset table, scored like our reader: the reference to compare against.

    python benchmarks/score_tesseract.py data/synthetic/test-heldout-fonts.csv [--output T.json]

Horizontal lines are read with `kor` (psm 7), vertical ones with `kor_vert` (psm 5); prints word
accuracy, CER and 1−NED overall and per orientation, and writes them (with the readings) as JSON.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.metrics import score_by_group
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import read_by_orientation, tesseract_available


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path, help="dataset table: img_path,text,orientation")
    parser.add_argument("--output", type=Path, help="JSON with the scores and readings")
    args = parser.parse_args()
    if not tesseract_available():
        raise UserError("tesseract with kor and kor_vert is not installed (make setup installs it)")
    rows = read_table(args.table)
    orientations = [str(o) for o in rows.get("orientation", ["horizontal"] * len(rows))]
    start = time.perf_counter()
    texts = read_by_orientation(resolve_image_paths(rows, args.table), orientations)
    seconds = time.perf_counter() - start
    scores = score_by_group(texts, [str(t) for t in rows["text"]], orientations)
    print(f"{'group':<12}{'count':>7}{'word acc':>10}{'CER':>8}{'1-NED':>8}")
    for group, value in scores.items():
        s = value.as_dict()
        print(
            f"{group:<12}{s['count']:>7}{s['word_accuracy']:>10.4f}{s['cer']:>8.4f}"
            f"{s['one_minus_ned']:>8.4f}"
        )
    print(f"{len(rows)} images in {seconds:.1f} s ({len(rows) / seconds:.0f} images/s)")
    if args.output:
        write_json(
            args.output,
            {
                "table": str(args.table),
                "scores": {group: value.as_dict() for group, value in scores.items()},
                "images_per_second": round(len(rows) / seconds, 1),
                "readings": texts,
            },
        )


if __name__ == "__main__":
    run_cli(main)
