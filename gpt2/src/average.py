"""Average readers continued from one export (a model soup):
python src/average.py EXPORT EXPORT [EXPORT ...] --output DIR [--overwrite]"""

from __future__ import annotations

import argparse

from inverse_dalle.averaging import average_exports
from ocr_common.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("exports", nargs="+", help="exported readers of one model and layout")
    parser.add_argument("--output", required=True, help="the averaged reader's export folder")
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUTPUT even if it is not an export (everything in it is deleted)",
    )
    args = parser.parse_args()
    averaged = average_exports(args.exports, args.output, args.overwrite)
    spreads = ", ".join(f"{s:.1%}" for s in averaged.spreads)
    print(
        f"averaged {len(averaged.spreads)} readers ({averaged.num_parameters / 1e6:.2f} M "
        f"parameters; each from the mean: {spreads}) into {averaged.directory}"
    )


if __name__ == "__main__":
    run_cli(main)
