"""Reconstruction quality and text fidelity of a VQVAE:
python src/evaluate.py MODEL [CHECKPOINT] --dataset T

MODEL is an exported VQVAE folder (src/export.py; a reader export bundles one in vqvae/, e.g.
../pretrained/korean-ocr-tiny/vqvae) or the YAML config a Lightning CHECKPOINT was trained with."""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ocr_common.devices import add_device_argument, resolve_device
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json
from vqvae.cli import add_model_arguments, load_tokenizer
from vqvae.fidelity import evaluate_fidelity


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_model_arguments(parser)
    parser.add_argument(
        "--dataset", required=True, help="dataset table (img_path,text[,orientation])"
    )
    parser.add_argument("--limit", type=int, default=300, help="first N images of the table")
    parser.add_argument(
        "--output",
        help="JSON to write (default: fidelity.json beside the checkpoint, or here for an export)",
    )
    add_device_argument(parser)
    args = parser.parse_intermixed_args()  # key=value overrides may follow options
    device = resolve_device(args.device)
    model = Path(args.model)
    _, tokenizer = load_tokenizer(model, args.rest, args.max_length)
    tokenizer.model.to(device)
    report = evaluate_fidelity(tokenizer, args.dataset, args.limit)
    if model.is_dir():  # an export: the JSON goes here, not into a shipped folder
        source, default = model, Path("fidelity.json")
    else:
        source = Path(args.rest[0])
        default = source.with_name("fidelity.json")
    output = Path(args.output) if args.output else default
    values = {
        **asdict(report),
        "fidelity": report.fidelity,
        "dataset": str(args.dataset),
        "checkpoint": str(source),
        "max_length": tokenizer.max_visual_length,
    }
    write_json(output, values)
    print(
        f"{report.count} images ({report.num_skipped} unreadable skipped): "
        f"L1 {report.l1:.4f}, PSNR {report.psnr:.2f} dB, codebook used {report.used_fraction:.1%} "
        f"(perplexity {report.perplexity:.0f}); Tesseract word accuracy "
        f"{report.word_accuracy_reconstructions:.3f} on reconstructions / "
        f"{report.word_accuracy_originals:.3f} on originals = fidelity {report.fidelity:.3f}; "
        f"wrote {output}"
    )


if __name__ == "__main__":
    run_cli(main)
