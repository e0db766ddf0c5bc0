"""Ship a demo run's reader: python scripts/ship_pretrained.py RUN_ROOT OUT_DIR [--examples DIR]

Copies `RUN_ROOT/export/` (written by `scripts/demo.py`, GPT-2 weights in float16) to OUT_DIR and
completes its model card with how it was trained and the run's measured figures (`report.md`);
copies a few held-out-font test images with their labels to `--examples` for the quick start.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from inverse_dalle.export_format import FORMAT_FILE
from ocr_common.atomic import atomic_directory, check_replaceable
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import read_json
from ocr_common.tables import read_table, resolve_image_paths, write_table

TEST_SPLIT = "test-heldout-fonts"
MAX_BYTES = 25 * 2**20  # what a clone should carry


def training_section(report: dict) -> str:
    stages = report["stages"]
    minutes = report["total_seconds"] / 60
    settings = ", ".join(f"{key}={value}" for key, value in report["settings"].items())
    return f"""## How it was trained

```bash
python scripts/demo.py --preset {report["preset"]}
```

Preset settings: {settings}.

Synthetic Korean text lines rendered from the installed Nanum/Noto fonts, nothing downloaded;
{report["settings"]["train_images"]:,} training images. The whole run took {minutes:.0f} minutes on
a 2-core CPU (GPT-2 stage {stages["train-gpt2"]["seconds"] / 60:.0f} minutes). The figures below
are that run's `report.md`, measured on this directory's weights; the test split is drawn in fonts
the model never saw (Un*, Baekmuk).
"""


def copy_examples(run_root: Path, examples: Path, count: int, overwrite: bool = False) -> None:
    """The first `count` held-out-font test images per orientation, with a labels.csv."""
    table_path = run_root / "data" / f"{TEST_SPLIT}.csv"
    table = read_table(table_path)
    table["source"] = resolve_image_paths(table, table_path)
    picked = table.groupby("orientation", sort=True).head(count).reset_index(drop=True)
    with atomic_directory(examples, "labels.csv", overwrite) as staging:
        names = []
        for index, row in picked.iterrows():
            name = f"{index:02d}-{row['orientation']}.png"
            shutil.copyfile(row["source"], staging / name)
            names.append(name)
        labels = picked.assign(img_path=names)[["img_path", "text", "orientation"]]
        write_table(labels, staging / "labels.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run_root", type=Path, help="a finished demo run, e.g. runs/cpu-long")
    parser.add_argument("out_dir", type=Path, help="e.g. pretrained/inverse-dalle-ocr-tiny")
    parser.add_argument("--examples", type=Path, help="folder for a few labelled test images")
    parser.add_argument("--examples-per-orientation", type=int, default=6)
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT_DIR and --examples even if not ours (everything in them is deleted)",
    )
    args = parser.parse_args()
    report = read_json(args.run_root / "report.json", "not found (run scripts/demo.py first)")
    export = args.run_root / "export"
    if "export-gpt2" not in report["stages"] or not export.is_dir():
        raise UserError(f"{args.run_root}: the run has no exported reader yet")
    # report.md minus its title and the line pointing at the run's own export folder
    lines = (args.run_root / "report.md").read_text(encoding="utf-8").splitlines()[2:]
    measured = "\n".join(line for line in lines if not line.startswith("Exported reader:"))
    check_replaceable(args.out_dir, FORMAT_FILE, args.overwrite)
    if args.examples:  # refused before OUT_DIR is written, not after
        check_replaceable(args.examples, "labels.csv", args.overwrite)
    with atomic_directory(args.out_dir, FORMAT_FILE, args.overwrite) as staging:
        shutil.copytree(export, staging, dirs_exist_ok=True)
        card = (staging / "README.md").read_text(encoding="utf-8")
        (staging / "README.md").write_text(
            f"{card}\n{training_section(report)}\n## Measured\n\n{measured.strip()}\n", "utf-8"
        )
        size = sum(p.stat().st_size for p in staging.rglob("*") if p.is_file())
        if size > MAX_BYTES:
            raise UserError(f"{export}: {size / 2**20:.1f} MB, over the {MAX_BYTES >> 20} MB cap")
    print(f"shipped {args.out_dir} ({size / 2**20:.1f} MB)")
    if args.examples:
        copy_examples(args.run_root, args.examples, args.examples_per_orientation, args.overwrite)
        print(f"examples: {args.examples}/labels.csv")


if __name__ == "__main__":
    run_cli(main)
