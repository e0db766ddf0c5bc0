"""Tesseract 5 on any dataset table, scored like our reader: the reference to compare against.

    python benchmarks/score_tesseract.py data/synthetic/test-heldout-fonts.csv [--output T.json]

Horizontal lines are read with `kor` (psm 7), vertical ones with `kor_vert` (psm 5); prints word
accuracy, CER and 1−NED overall and per orientation, and writes them (with the readings) as JSON.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from inverse_dalle.predictions import scores_table
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.tesseract import score_table, tesseract_available


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", type=Path, help="dataset table: img_path,text,orientation")
    parser.add_argument("--output", type=Path, help="JSON with the scores and readings")
    args = parser.parse_args()
    if not tesseract_available():
        raise UserError("tesseract with kor and kor_vert is not installed (make setup installs it)")
    result = score_table(args.table)
    print(scores_table(result["scores"]))
    print(f"{len(result['texts'])} images, {result['images_per_second']:.0f} images/s")
    if args.output:
        write_json(
            args.output,
            {
                "table": str(args.table),
                "scores": {group: value.as_dict() for group, value in result["scores"].items()},
                "images_per_second": result["images_per_second"],
                "readings": result["texts"],
            },
        )


if __name__ == "__main__":
    run_cli(main)
