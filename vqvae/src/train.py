"""Train the VQVAE: python src/train.py CONFIG [key=value ...] [--resume-from CKPT] [--run-dir D]"""

from __future__ import annotations

import argparse
from pathlib import Path

from ocr_common.config import load_config
from ocr_common.errors import run_cli
from vqvae.config import VQVAEConfig
from vqvae.training import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="YAML config, e.g. config/vqvae-tiny.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides, e.g. train.epochs=2")
    parser.add_argument("--resume-from", help="checkpoint to continue exactly (e.g. last.ckpt)")
    parser.add_argument("--run-dir", help="output folder (default: runs/<config name>)")
    args = parser.parse_intermixed_args()  # key=value overrides may follow options
    config = load_config(VQVAEConfig, args.config, args.overrides)
    run_dir = Path(args.run_dir or Path("runs") / Path(args.config).stem)
    report = train(config, run_dir, args.resume_from)
    print(
        f"trained: {report.images_per_second:.1f} images/s, "
        f"{report.padded_pixel_share:.1%} padded pixels, {report.num_skipped} unreadable skipped; "
        f"checkpoint {report.run_dir / 'last.ckpt'}"
    )


if __name__ == "__main__":
    run_cli(main)
