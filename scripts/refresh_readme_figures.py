"""Copy a finished demo run's sheets into images/, where the README shows them.

    python scripts/refresh_readme_figures.py runs/demo [--name demo]

The demo itself writes only under its run folder; this is the one step that changes tracked files.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ocr_common.errors import UserError, run_cli

REPO = Path(__file__).resolve().parents[1]
SHEETS = ("readings.png", "generated.png")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_root", type=Path, help="a demo run folder (scripts/demo.py --root)")
    parser.add_argument("--name", help="prefix of the images (default: the run folder's name)")
    parser.add_argument("--images", type=Path, default=REPO / "images", help=argparse.SUPPRESS)
    args = parser.parse_args()
    name = args.name or args.run_root.resolve().name
    missing = [s for s in SHEETS if not (args.run_root / "figures" / s).is_file()]
    if missing:
        raise UserError(f"{args.run_root}: no figures/{missing[0]} (has the demo finished?)")
    for sheet in SHEETS:
        target = args.images / f"{name}-{sheet}"
        shutil.copyfile(args.run_root / "figures" / sheet, target)
        print(f"wrote {target}")


if __name__ == "__main__":
    run_cli(main)
