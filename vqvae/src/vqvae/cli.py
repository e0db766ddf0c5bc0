"""The tokenising command (`python src/predict.py`, `inverse-dalle tokenize`)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from ocr_common.cli import command_parser
from ocr_common.config import load_config
from ocr_common.devices import add_device_argument, lightning_accelerator, resolve_device
from ocr_common.errors import UserError
from vqvae.config import VQVAEConfig
from vqvae.tokenize_table import tokenize_table
from vqvae.tokenizer import ImageTokenizer

TOKENIZE_DESCRIPTION = """Tokenise a dataset table (img_path,text,…) into a token table.

MODEL is an exported VQVAE folder (src/export.py; a reader export bundles one in vqvae/, e.g.
pretrained/korean-ocr-tiny/vqvae: the tokens to fine-tune that reader on), or the YAML config a
Lightning CHECKPOINT was trained with.

Runs on --device (cpu, cuda or cuda:N; default: cuda when available, else cpu), on as many as
train.devices/num_nodes/strategy say (override them like train.devices=4 train.strategy=ddp);
with several devices each rank writes a shard and rank 0 merges them into one table, identical
to a single-device run."""

TOKENIZE_EXAMPLES = (
    "%(prog)s pretrained/korean-ocr-tiny/vqvae --dataset resources/aihub/train.csv "
    "--output tokens/aihub-train.parquet",
    "%(prog)s vqvae/config/vqvae-tiny.yaml runs/vqvae-tiny/last.ckpt "
    "--dataset data/synthetic/train.csv --output tokens/train.parquet",
)


def load_tokenizer(
    model: Path, rest: list[str], max_visual_length: int | None
) -> tuple[VQVAEConfig, ImageTokenizer]:
    """The tokenizer of an export folder or of CONFIG + CHECKPOINT, and the config whose train.*
    says where to run (an export's: the defaults, plus the overrides)."""
    if model.is_dir():
        config = load_config(VQVAEConfig, None, rest)
        tokenizer = ImageTokenizer.from_pretrained(model)
        # The export's budget unless asked: a reader trained on its tokens expects that budget.
        tokenizer.max_visual_length = max_visual_length or tokenizer.max_visual_length
        return config, tokenizer
    if not rest or "=" in rest[0]:
        raise UserError(f"{model}: give an exported VQVAE folder, or a config and its checkpoint")
    checkpoint, *overrides = rest
    config = load_config(VQVAEConfig, model, overrides)
    max_visual_length = max_visual_length or config.data.max_length
    return config, ImageTokenizer.from_checkpoint(config.model, checkpoint, max_visual_length)


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """MODEL [CHECKPOINT] [key=value …] and --max-length, as `load_tokenizer` takes them."""
    parser.add_argument("model", help="exported VQVAE folder, or the YAML config of CHECKPOINT")
    parser.add_argument(
        "rest",
        nargs="*",
        metavar="[CHECKPOINT] key=value",
        help="after a config, its Lightning checkpoint (e.g. runs/x/last.ckpt); then overrides",
    )
    parser.add_argument(
        "--max-length", type=int, help="token budget (default: the export's, or data.max_length)"
    )


def tokenize(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = command_parser(TOKENIZE_DESCRIPTION, TOKENIZE_EXAMPLES, prog)
    add_model_arguments(parser)
    parser.add_argument("--dataset", required=True, help="dataset table (img_path,text,…)")
    parser.add_argument("--output", required=True, help="token table to write (.csv/.parquet)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--use-tta", action="store_true", help="also write jittered repeats")
    parser.add_argument("--num-repeats", type=int, default=4, help="rows per image with --use-tta")
    parser.add_argument("--num-workers", type=int, default=0, help="DataLoader workers")
    parser.add_argument("--no-progress", action="store_true")
    add_device_argument(parser)
    args = parser.parse_intermixed_args(argv)  # key=value overrides may follow options
    if args.batch_size < 1 or (args.use_tta and args.num_repeats < 1):
        raise UserError("--batch-size and --num-repeats must be at least 1")
    accelerator, devices = lightning_accelerator(resolve_device(args.device))
    config, tokenizer = load_tokenizer(Path(args.model), args.rest, args.max_length)
    report = tokenize_table(
        tokenizer,
        args.dataset,
        args.output,
        batch_size=args.batch_size,
        num_workers=args.num_workers,
        num_repeats=args.num_repeats if args.use_tta else 1,
        progress=not args.no_progress,
        devices=devices or config.train.devices,
        accelerator=accelerator,
        num_nodes=config.train.num_nodes,
        strategy=config.train.strategy,
    )
    if report is None:  # not global rank 0: rank 0 merged the shards and reports
        return
    print(
        f"wrote {report.num_rows} rows to {args.output} ({report.num_skipped} unreadable "
        f"image(s) skipped); wasted token slots: {report.wasted_slot_share:.1%} "
        f"(square padding would waste {report.square_wasted_slot_share:.1%})"
    )
