"""Score a reader: python src/evaluate.py MODEL_DIR TABLE [--group-by orientation] [--output F]
    [--predictions P]

Prints word accuracy, CER and 1−NED overall and per group, and writes them as JSON. Every row is
scored: an unreadable image counts as an empty reading.
"""

from __future__ import annotations

import argparse

from transformers.utils import logging as transformers_logging

from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.predictions import readings_table, scores_table
from inverse_dalle.table_reading import read_rows
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.metrics import score_by_group
from ocr_common.tables import write_table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model_dir", help="exported model directory (src/export.py)")
    parser.add_argument("table", help="token table or dataset table with a text column")
    parser.add_argument("--group-by", help="column to score separately, e.g. orientation")
    parser.add_argument("--output", default="scores.json", help="JSON file to write")
    parser.add_argument(
        "--predictions", help="also write each row's reading and reference (.csv or .parquet)"
    )
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()
    if args.batch_size < 1:
        raise UserError("--batch-size must be at least 1")
    transformers_logging.disable_progress_bar()  # stderr stays for errors and our summary
    ocr = InverseDalleOCR.from_pretrained(args.model_dir)
    result = read_rows(ocr, args.table, args.batch_size)
    rows = result.rows
    if "text" not in rows.columns:
        raise UserError(f"{args.table}: no text column to score against")
    if args.group_by and args.group_by not in rows.columns:
        raise UserError(f"{args.table}: no column '{args.group_by}' to group by")
    groups = rows[args.group_by].astype(str) if args.group_by else ["all"] * len(rows)
    scores = score_by_group(result.texts, list(rows["text"]), list(groups))
    report = {
        "model_dir": args.model_dir,
        "table": args.table,
        "scores": {group: value.as_dict() for group, value in scores.items()},
        "num_unended": result.num_unended,
        "num_unreadable": result.num_unreadable,
    }
    write_json(args.output, report)
    if args.predictions:
        write_table(readings_table(result).assign(reference=rows["text"]), args.predictions)
    print(scores_table(scores))
    print(
        f"{result.num_unended} reading(s) hit the length limit without </s>; "
        f"{result.num_unreadable} unreadable image(s) scored as empty; wrote {args.output}"
    )


if __name__ == "__main__":
    run_cli(main)
