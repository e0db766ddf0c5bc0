"""Crop AIHub's Korean sign / book-cover OCR labels into text images and a dataset table.

python scripts/process_external_dataset.py JSON_DIR IMAGE_DIR --output-dir resources/external
"""

from __future__ import annotations

import argparse

from ocr_common.aihub import process_aihub
from ocr_common.errors import run_cli


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json_dir", help="folder of label JSON files (searched recursively)")
    parser.add_argument("image_dir", help="folder of the source images the labels name")
    parser.add_argument(
        "--output-dir", default="resources/external", help="folder for the PNG crops"
    )
    parser.add_argument(
        "--output-dataset",
        default=None,
        help="table to write, .csv or .parquet (default: <output-dir>.csv)",
    )
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    report = process_aihub(
        args.json_dir,
        args.image_dir,
        args.output_dir,
        args.output_dataset,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(report.summary())


if __name__ == "__main__":
    run_cli(main)
