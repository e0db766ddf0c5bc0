"""Export a checkpoint for use without Lightning: python src/export.py CONFIG CKPT OUT_DIR"""

from __future__ import annotations

import argparse

from ocr_common.config import load_config
from ocr_common.errors import run_cli
from vqvae.config import VQVAEConfig
from vqvae.tokenizer import ImageTokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("config", help="the YAML config the checkpoint was trained with")
    parser.add_argument("checkpoint", help="Lightning checkpoint (e.g. runs/x/last.ckpt)")
    parser.add_argument("output_dir", help="folder for model.safetensors and config.json")
    parser.add_argument("--max-length", type=int, help="token budget (default: data.max_length)")
    parser.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = parser.parse_intermixed_args()  # key=value overrides may follow options
    config = load_config(VQVAEConfig, args.config, args.overrides)
    tokenizer = ImageTokenizer.from_checkpoint(
        config.model, args.checkpoint, args.max_length or config.data.max_length
    )
    tokenizer.save_pretrained(args.output_dir)
    print(
        f"exported to {args.output_dir} (sha256 {tokenizer.sha256[:12]}…, "
        f"{tokenizer.num_codes} codes, f{tokenizer.downsample}, "
        f"max_length {tokenizer.max_visual_length})"
    )


if __name__ == "__main__":
    run_cli(main)
