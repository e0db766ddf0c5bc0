"""Export a checkpoint: python src/export.py CONFIG CKPT [OUT_DIR] [--half] [key=value ...]"""

from __future__ import annotations

import argparse
from pathlib import Path

from inverse_dalle.checkpoint import load_module
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.export import export_model
from ocr_common.config import load_config
from ocr_common.errors import run_cli


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the YAML config the checkpoint was trained with")
    parser.add_argument("checkpoint", help="Lightning checkpoint, e.g. runs/gpt2-tiny/last.ckpt")
    parser.add_argument("out_dir", nargs="?", help="default: exports/<config name>")
    parser.add_argument(
        "--half",
        action="store_true",
        help="store the GPT-2 weights as float16 (half the size; read back as float32)",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace OUT_DIR even if it is not an export (everything in it is deleted)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. data.vqvae=../vqvae-export")
    args = parser.parse_intermixed_args()
    if args.out_dir and "=" in args.out_dir:  # an override given without OUT_DIR
        args.overrides.insert(0, args.out_dir)
        args.out_dir = None
    config = load_config(InverseDalleConfig, args.config, args.overrides)
    out_dir = Path(args.out_dir or Path("exports") / Path(args.config).stem)
    report = export_model(
        load_module(args.checkpoint), config, out_dir, half=args.half, overwrite=args.overwrite
    )
    vqvae = "with its VQVAE" if report.has_vqvae else "without a VQVAE (reads token tables only)"
    print(f"exported {report.num_parameters / 1e6:.2f} M parameters to {out_dir} {vqvae}")


if __name__ == "__main__":
    run_cli(main)
