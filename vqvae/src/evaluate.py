"""Reconstruction quality and text fidelity: python src/evaluate.py CONFIG CKPT --dataset T"""

from __future__ import annotations

import argparse
from dataclasses import asdict
from pathlib import Path

from ocr_common.config import load_config
from ocr_common.devices import add_device_argument, resolve_device
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json
from vqvae.config import VQVAEConfig
from vqvae.fidelity import evaluate_fidelity
from vqvae.tokenizer import ImageTokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the YAML config the checkpoint was trained with")
    parser.add_argument("checkpoint", help="Lightning checkpoint (e.g. runs/x/last.ckpt)")
    parser.add_argument(
        "--dataset", required=True, help="dataset table (img_path,text[,orientation])"
    )
    parser.add_argument("--limit", type=int, default=300, help="first N images of the table")
    parser.add_argument("--output", help="JSON to write (default: beside the checkpoint)")
    parser.add_argument("--max-length", type=int, help="token budget (default: data.max_length)")
    add_device_argument(parser)
    parser.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = parser.parse_intermixed_args()  # key=value overrides may follow options
    device = resolve_device(args.device)
    config = load_config(VQVAEConfig, args.config, args.overrides)
    tokenizer = ImageTokenizer.from_checkpoint(
        config.model, args.checkpoint, args.max_length or config.data.max_length
    )
    tokenizer.model.to(device)
    report = evaluate_fidelity(tokenizer, args.dataset, args.limit)
    output = Path(args.output or Path(args.checkpoint).with_name("fidelity.json"))
    values = {
        **asdict(report),
        "fidelity": report.fidelity,
        "dataset": str(args.dataset),
        "checkpoint": str(args.checkpoint),
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
