"""The reader's commands, shared by `python src/{predict,evaluate,generate}.py` and the
`inverse-dalle` console script (`inverse-dalle read|evaluate|draw|tokenize …`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from tqdm import tqdm
from transformers.utils import logging as transformers_logging

from inverse_dalle.batch_sizing import CPU_BATCH, GPU_BATCH
from inverse_dalle.generation import CAPTIONS_FILE, SUMMARY_FILE, GenerationRequest, generate
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.pages import (
    draw_readings,
    load_boxes,
    photos_in,
    read_boxed_images,
    read_photo,
)
from inverse_dalle.pages import readings_table as pages_table
from inverse_dalle.predictions import merge_repeats, readings_table, scores_table
from inverse_dalle.table_reading import read_rows
from ocr_common.cli import command_parser
from ocr_common.devices import add_device_argument
from ocr_common.errors import UserError, run_cli
from ocr_common.images import load_image
from ocr_common.json_files import write_json
from ocr_common.metrics import score_by_group
from ocr_common.tables import check_table_suffix, write_table

READ_DESCRIPTION = """Read single cropped text lines (horizontal or vertical), one per image.

INPUTS is a token table (visual_tokens column), a dataset table (img_path column) or a folder of
images; the latter two are tokenised with the VQVAE bundled in MODEL_DIR. Writes
img_path,text,confidence (confidence = probability of the chosen tokens)."""

READ_EXAMPLES = (
    "%(prog)s pretrained/korean-ocr-tiny examples --output readings.csv",
    "%(prog)s pretrained/korean-ocr-tiny data/synthetic/test-heldout-fonts.csv --output r.parquet",
)

EVALUATE_DESCRIPTION = """Score a reader on a table with a text column.

Prints word accuracy, CER and 1−NED overall and per group, and writes them as JSON. Every row is
scored: an unreadable image counts as an empty reading."""

EVALUATE_EXAMPLES = (
    "%(prog)s pretrained/korean-ocr-tiny examples/labels.csv --group-by orientation",
    "%(prog)s pretrained/korean-ocr-tiny data/synthetic/test-heldout-fonts.csv "
    "--predictions readings.csv",
)

DRAW_DESCRIPTION = """Draw text-line images.

MODEL_DIR is a text_to_image export (src/finetune.py). With --unconditional instead of a prompt,
MODEL_DIR is a reader (src/export.py) that draws from nothing and captions its own images.
--reader OCR_DIR reads every image back and reports how many say what was asked; with
--candidates K it also draws K images for each one kept and keeps the one it most likely reads as
the prompt (as DALL-E reranked its samples with CLIP)."""

DRAW_EXAMPLES = (
    '%(prog)s exports/gpt2-tiny-finetune "문자 인식 모델" --num-images 16 '
    "--reader pretrained/korean-ocr-tiny",
    "%(prog)s pretrained/korean-ocr-tiny --unconditional --num-images 8",
)


READ_PAGE_DESCRIPTION = """Read whole images: every text line, with its box.

The reader reads single cropped lines. Give it photos (IMAGES: files or folders), whose lines
Tesseract's layout analysis finds (`tesseract IMG - --psm 3 -l kor`, Tesseract 5 with kor), or
boxes: a table img_path,x,y,w,h[,text] (img_path relative to the table) or AIHub label JSON (a file
or a folder of them; images under --images), cropped on the fly. Writes
img_path,x,y,w,h,text,confidence[,reference] (.csv, .parquet) or the same rows as .json, and with
--draw DIR each image with its boxes and readings drawn."""

READ_PAGE_EXAMPLES = (
    "%(prog)s pretrained/korean-ocr-tiny photo.jpg --output lines.csv --draw annotated",
    "%(prog)s pretrained/korean-ocr-tiny --boxes boxes.csv --output lines.json",
    "%(prog)s pretrained/korean-ocr-tiny --boxes '[라벨]Validation' --images '[원천]Validation'",
)


def add_batch_size_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=int,
        help=f"images read at once (default: {CPU_BATCH} on CPU; on a GPU {GPU_BATCH}, halved "
        "whenever it runs out of memory)",
    )


def _check_batch_size(batch_size: int | None) -> None:
    if batch_size is not None and batch_size < 1:
        raise UserError("--batch-size must be at least 1")


def _add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """How hard to read: both options trade reading time for accuracy."""
    parser.add_argument(
        "--beams",
        type=int,
        default=1,
        help="1: greedy reading (default); N > 1: beam search over N hypotheses, ~N× slower",
    )
    parser.add_argument(
        "--tta",
        type=int,
        default=1,
        metavar="N",
        help="read N views of each image file (the image, then jittered crops) and vote; "
        "~N× slower (default 1)",
    )
    parser.add_argument(
        "--rescore",
        action="store_true",
        help="with --tta: keep the reading all views find most likely, not the vote (~1.3× slower)",
    )
    parser.add_argument(
        "--tta-threshold",
        type=float,
        metavar="P",
        help="with --tta: read the other views only of images whose first reading's confidence "
        "is below P (0.9: as accurate in ~0.7× the time on unseen fonts)",
    )
    _add_tiles_argument(parser)
    parser.add_argument(
        "--workers",
        type=int,
        help="processes reading image files, one CPU core each (same readings; CPU only); "
        "default: one per core on Linux when there are files for each, else 1",
    )


def _add_tiles_argument(parser: argparse.ArgumentParser) -> None:
    """`--tiles`, for the line readers and read-page alike."""
    parser.add_argument(
        "--tiles",
        action="store_true",
        help="check each long line's reading against overlapping tiles of the line, each read "
        "with the whole token budget (~2× slower on long lines)",
    )


def _reader_from(args: argparse.Namespace) -> InverseDalleOCR:
    """The reader that `_add_reading_arguments` and `add_device_argument` describe."""
    return InverseDalleOCR.from_pretrained(
        args.model_dir,
        args.device,
        args.beams,
        args.tta,
        args.rescore,
        args.tta_threshold,
        args.tiles,
    )


def read(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = command_parser(READ_DESCRIPTION, READ_EXAMPLES, prog)
    parser.add_argument("model_dir", help="exported model directory (src/export.py)")
    parser.add_argument("inputs", help="token table, dataset table or folder of images")
    parser.add_argument("--output", default="predictions.csv", help=".csv or .parquet")
    add_batch_size_argument(parser)
    parser.add_argument(
        "--merge-tta",
        action="store_true",
        help="merge rows of one img_path (token tables written with --use-tta) into one reading",
    )
    _add_reading_arguments(parser)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    _check_batch_size(args.batch_size)
    check_table_suffix(Path(args.output))
    transformers_logging.disable_progress_bar()  # stderr stays for errors and our summary
    ocr = _reader_from(args)
    result = read_rows(ocr, args.inputs, args.batch_size, workers=args.workers)
    predictions = readings_table(result)
    if args.merge_tta:
        predictions = merge_repeats(predictions)
    write_table(predictions, args.output)
    print(
        f"wrote {len(predictions)} reading(s) to {args.output}; {result.num_unreadable} unreadable "
        f"image(s) read as empty; {result.num_unended} hit the length limit without </s>"
    )


def evaluate(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = command_parser(EVALUATE_DESCRIPTION, EVALUATE_EXAMPLES, prog)
    parser.add_argument("model_dir", help="exported model directory (src/export.py)")
    parser.add_argument("table", help="token table or dataset table with a text column")
    parser.add_argument("--group-by", help="column to score separately, e.g. orientation")
    parser.add_argument("--output", default="scores.json", help="JSON file to write")
    parser.add_argument(
        "--predictions", help="also write each row's reading and reference (.csv or .parquet)"
    )
    add_batch_size_argument(parser)
    _add_reading_arguments(parser)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    _check_batch_size(args.batch_size)
    if args.predictions:
        check_table_suffix(Path(args.predictions))
    transformers_logging.disable_progress_bar()  # stderr stays for errors and our summary
    ocr = _reader_from(args)
    result = read_rows(ocr, args.table, args.batch_size, workers=args.workers)
    rows = result.rows
    if "text" not in rows.columns:
        raise UserError(f"{args.table}: no text column to score against")
    if args.group_by and args.group_by not in rows.columns:
        raise UserError(f"{args.table}: no column '{args.group_by}' to group by")
    groups = rows[args.group_by].astype(str) if args.group_by else ["all"] * len(rows)
    scores = score_by_group(result.texts, list(rows["text"]), list(groups))
    report = {
        "model_dir": args.model_dir,
        "table": args.table,
        "scores": {group: value.as_dict() for group, value in scores.items()},
        "num_unended": result.num_unended,
        "num_unreadable": result.num_unreadable,
    }
    write_json(args.output, report)
    if args.predictions:
        write_table(readings_table(result).assign(reference=rows["text"]), args.predictions)
    print(scores_table(scores))
    print(
        f"{result.num_unended} reading(s) hit the length limit without </s>; "
        f"{result.num_unreadable} unreadable image(s) scored as empty; wrote {args.output}"
    )


def draw(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = command_parser(DRAW_DESCRIPTION, DRAW_EXAMPLES, prog)
    parser.add_argument("model_dir", help="exported model directory")
    parser.add_argument("prompt", nargs="?", help="the text to draw")
    parser.add_argument("--unconditional", action="store_true", help="no prompt; a reader draws")
    parser.add_argument("--num-images", type=int, default=8)
    parser.add_argument("--output-dir", default="generated", help="replaced if it exists")
    parser.add_argument("--top-k", type=int, help="default: the model's generation_config.json")
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--temperature", type=float)
    parser.add_argument(
        "--guidance-scale", type=float, help="classifier-free guidance (1: none; default: export's)"
    )
    parser.add_argument("--seed", type=int, default=0, help="same seed, same images")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--reader", help="OCR export that reads each image back")
    parser.add_argument(
        "--candidates", type=int, default=1, help="draw K per image; the reader keeps the best"
    )
    add_device_argument(parser)
    parser.add_argument("--tesseract", action="store_true", help="Tesseract reads them back too")
    args = parser.parse_args(argv)
    if args.unconditional == (args.prompt is not None):
        raise UserError("give either a prompt or --unconditional")
    transformers_logging.disable_progress_bar()
    overrides = {
        "top_k": args.top_k,
        "top_p": args.top_p,
        "temperature": args.temperature,
        "guidance_scale": args.guidance_scale,
    }
    summary = generate(
        GenerationRequest(
            model_dir=Path(args.model_dir),
            prompt=args.prompt,
            output_dir=Path(args.output_dir),
            num_images=args.num_images,
            seed=args.seed,
            batch_size=args.batch_size,
            sampling={k: v for k, v in overrides.items() if v is not None},
            reader_dir=Path(args.reader) if args.reader else None,
            candidates=args.candidates,
            device=args.device,
            tesseract=args.tesseract,
        )
    )
    repairs = summary["repairs"]
    print(
        f"drew {summary['num_images']} image(s) in {summary['seconds']:.1f} s "
        f"({summary['images_per_second']:.1f} images/s); {repairs['repaired']} repaired "
        f"(ragged {repairs['ragged']}, misplaced [ROW] {repairs['misplaced_row']}, too long "
        f"{repairs['too_long']}, empty {repairs['empty']}); {args.output_dir}/{CAPTIONS_FILE}"
    )
    if "read_back" in summary:
        read_back = summary["read_back"]
        print(
            f"read back by {args.reader}: {read_back['word_accuracy']:.1%} say the "
            f"{'prompt' if args.prompt else 'self-caption'} exactly (CER {read_back['cer']:.3f}); "
            f"{args.output_dir}/{SUMMARY_FILE}"
        )
    if "read_back_all_candidates" in summary:
        print(
            f"best of {args.candidates} by the same reader; all candidates read back "
            f"{summary['read_back_all_candidates']['word_accuracy']:.1%} right"
        )
    if "read_back_tesseract" in summary:
        read_back = summary["read_back_tesseract"]
        print(
            f"read back by Tesseract: {read_back['word_accuracy']:.1%} say the "
            f"{'prompt' if args.prompt else 'self-caption'} exactly (CER {read_back['cer']:.3f})"
        )


def read_page(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    parser = command_parser(READ_PAGE_DESCRIPTION, READ_PAGE_EXAMPLES, prog)
    parser.add_argument("model_dir", help="exported model directory (src/export.py)")
    parser.add_argument("images", nargs="*", help="photos or folders of them (lines detected)")
    parser.add_argument("--boxes", help="table img_path,x,y,w,h[,text], or AIHub label JSON(s)")
    parser.add_argument("--images", dest="image_dir", help="AIHub images (default: beside JSON)")
    parser.add_argument("--output", default="lines.csv", help=".csv, .parquet or .json")
    parser.add_argument("--draw", help="folder for each image with its boxes and readings")
    add_batch_size_argument(parser)
    _add_tiles_argument(parser)
    add_device_argument(parser)
    args = parser.parse_args(argv)
    _check_batch_size(args.batch_size)
    if bool(args.images) == bool(args.boxes):
        raise UserError("give either IMAGES (lines are detected) or --boxes")
    output = Path(args.output)
    if output.suffix.lower() != ".json":
        check_table_suffix(output)
    transformers_logging.disable_progress_bar()
    ocr = InverseDalleOCR.from_pretrained(args.model_dir, args.device, tiles=args.tiles)
    if args.boxes:
        grouped, skipped = load_boxes(Path(args.boxes), args.image_dir)
        if skipped:
            reasons = ", ".join(f"{reason} {count}" for reason, count in skipped.items())
            print(f"skipped {sum(skipped.values())} annotation(s): {reasons}", file=sys.stderr)
        readings = read_boxed_images(ocr, grouped, args.batch_size)
    else:
        photos = [p for item in map(Path, args.images) for p in photos_in(item)]
        readings = {str(photo): read_photo(ocr, photo) for photo in tqdm(photos, desc="photos")}
    table = pages_table(readings)
    if output.suffix.lower() == ".json":
        write_json(output, table.to_dict(orient="records"))
    else:
        write_table(table, output)
    if args.draw:
        folder = Path(args.draw)
        folder.mkdir(parents=True, exist_ok=True)
        for number, (image_path, lines) in enumerate(readings.items()):
            name = f"{number:04d}-{Path(image_path).stem}.png"
            draw_readings(load_image(image_path), lines).save(folder / name)
    print(
        f"read {len(table)} line(s) in {len(readings)} image(s); wrote {output}"
        + (f"; drawn into {args.draw}/" if args.draw else "")
    )


def tokenize(argv: Sequence[str] | None = None, prog: str | None = None) -> None:
    """vqvae's tokenize command, imported when run: it tokenises through Lightning, whose import
    would add ~0.4 s to the start of every reading command."""
    from vqvae.cli import tokenize as tokenize_table

    tokenize_table(argv, prog)


COMMANDS: dict[str, tuple[Callable[..., None], str]] = {
    "read": (read, "read single text-line images, tables or folders of them"),
    "read-page": (read_page, "read whole images: lines found by Tesseract, or given as boxes"),
    "evaluate": (evaluate, "score a reader on a table with a text column"),
    "draw": (draw, "draw text-line images with a finetuned drawer"),
    "tokenize": (tokenize, "turn a dataset table into a token table with a VQVAE"),
}

USAGE = "usage: inverse-dalle COMMAND [--help] …\n\ncommands:\n" + "".join(
    f"  {name:<11}{summary}\n" for name, (_, summary) in COMMANDS.items()
)


def dispatch(argv: Sequence[str]) -> None:
    """Run `inverse-dalle COMMAND ARGS…`; no command or --help prints the list of commands."""
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE + "\nexample:\n  inverse-dalle read pretrained/korean-ocr-tiny examples")
        return
    name, *rest = argv
    if name not in COMMANDS:
        raise UserError(f"unknown command '{name}'; one of: {', '.join(COMMANDS)}")
    COMMANDS[name][0](rest, prog=f"inverse-dalle {name}")


def main() -> None:
    """The `inverse-dalle` console script."""
    run_cli(lambda: dispatch(sys.argv[1:]))
