"""Export a checkpoint: python src/export.py CONFIG CKPT [OUT_DIR] [--half] [key=value ...]

ONNX files of an export (reader.onnx, vqvae_encoder.onnx; see docs/onnx.md):
python src/export.py --onnx EXPORT_DIR [ONNX_DIR]   (default ONNX_DIR: EXPORT_DIR/onnx)"""

from __future__ import annotations

import argparse
from pathlib import Path

from inverse_dalle.checkpoint import load_module
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.export import export_model
from ocr_common.config import load_config
from ocr_common.errors import run_cli


def write_onnx(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """--onnx EXPORT_DIR [ONNX_DIR]: the positionals name an export and the ONNX folder."""
    if args.out_dir or args.overrides or args.half:
        parser.error("--onnx takes EXPORT_DIR [ONNX_DIR] only")
    from inverse_dalle.onnx_export import export_onnx  # needs onnx, only for this option

    written = export_onnx(args.config, args.checkpoint)
    names = ", ".join(sorted(p.name for p in written.directory.glob("*.onnx")))
    print(f"wrote {names} to {written.directory}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the YAML config the checkpoint was trained with")
    parser.add_argument(
        "checkpoint", nargs="?", help="Lightning checkpoint, e.g. runs/gpt2-tiny/last.ckpt"
    )
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
    parser.add_argument(
        "--onnx",
        action="store_true",
        help="--onnx EXPORT_DIR [ONNX_DIR]: write reader.onnx and vqvae_encoder.onnx of an "
        "existing export instead (default ONNX_DIR: EXPORT_DIR/onnx)",
    )
    parser.add_argument("overrides", nargs="*", help="key=value, e.g. data.vqvae=../vqvae-export")
    args = parser.parse_intermixed_args()
    if args.onnx:
        write_onnx(parser, args)
        return
    if args.checkpoint is None:
        parser.error("the following arguments are required: checkpoint")
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
