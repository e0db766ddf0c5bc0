"""Read text: python src/predict.py MODEL_DIR TABLE_OR_FOLDER [--output predictions.csv]

TABLE_OR_FOLDER is a token table (visual_tokens column), a dataset table (img_path column) or a
folder of images; the latter two are tokenised with the VQVAE bundled in MODEL_DIR.
"""

from __future__ import annotations

import argparse

from transformers.utils import logging as transformers_logging

from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.predictions import merge_repeats, readings_table
from inverse_dalle.table_reading import read_rows
from ocr_common.errors import UserError, run_cli
from ocr_common.tables import write_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="exported model directory (src/export.py)")
    parser.add_argument("inputs", help="token table, dataset table or folder of images")
    parser.add_argument("--output", default="predictions.csv", help=".csv or .parquet")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument(
        "--merge-tta",
        action="store_true",
        help="merge rows of one img_path (token tables written with --use-tta) into one reading",
    )
    args = parser.parse_args()
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    transformers_logging.disable_progress_bar()  # stderr stays for errors and our summary
    ocr = InverseDalleOCR.from_pretrained(args.model_dir)
    result = read_rows(ocr, args.inputs, args.batch_size)
    predictions = readings_table(result)
    if args.merge_tta:
        predictions = merge_repeats(predictions)
    write_table(predictions, args.output)
    print(
        f"wrote {len(predictions)} reading(s) to {args.output}; {result.num_unreadable} unreadable "
        f"image(s) read as empty; {result.num_unended} hit the length limit without </s>"
    )


if __name__ == "__main__":
    run_cli(main)
