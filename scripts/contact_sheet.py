"""Draw a grid of a dataset table's images with their labels, to check the data by eye.

python scripts/contact_sheet.py data/synthetic/train.csv images/synthetic-samples.png
"""

from __future__ import annotations

import argparse

from ocr_common.errors import run_cli
from ocr_common.synthetic.contact_sheet import contact_sheet, save_contact_sheet


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("table", help="dataset table (.csv or .parquet) with img_path,text")
    parser.add_argument("output", help="PNG to write")
    parser.add_argument("--count", type=int, default=24, help="images on the sheet")
    parser.add_argument("--columns", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0, help="which rows are picked")
    args = parser.parse_args()
    save_contact_sheet(contact_sheet(args.table, args.count, args.columns, args.seed), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_cli(main)
