"""Merge token tables made with one VQVAE into one table to train on (rows in the given order).

python scripts/merge_token_tables.py runs/drawer/tokens/train.parquet \
    runs/drawer/tokens2/train.parquet runs/drawer/tokens-all/train.parquet
"""

from __future__ import annotations

import argparse

from ocr_common.errors import run_cli
from vqvae.merge_tables import merge_token_tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tables", nargs="+", help="token tables (.parquet/.csv with .meta.json)")
    parser.add_argument("output", help="the merged table to write (+ its .meta.json)")
    args = parser.parse_args()
    meta = merge_token_tables(args.tables, args.output)
    print(f"wrote {meta.num_rows} rows from {len(args.tables)} tables to {args.output}")


if __name__ == "__main__":
    run_cli(main)
