"""Train the reader: python src/train.py CONFIG [key=value ...] [--resume-from CKPT]"""

from __future__ import annotations

import argparse
from pathlib import Path

from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.training import train
from ocr_common.config import load_config
from ocr_common.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="YAML config, e.g. config/gpt2-tiny.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    parser.add_argument("--resume-from", help="checkpoint to continue exactly (e.g. last.ckpt)")
    parser.add_argument("--run-dir", help="output folder (default: runs/<config name>)")
    args = parser.parse_intermixed_args()
    config = load_config(InverseDalleConfig, args.config, args.overrides)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    report = train(config, run_dir, args.resume_from)
    print(
        f"trained on {report.num_train} sequences ({report.num_truncated} texts truncated, "
        f"{report.num_unknown_characters} unknown characters); checkpoint {run_dir / 'last.ckpt'}"
    )


if __name__ == "__main__":
    run_cli(main)
