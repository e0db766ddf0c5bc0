"""Measure a drawer: each prompt of a file drawn at several guidance scales, read back by a reader
and by Tesseract.

python scripts/drawer_sweep.py DRAWER READER gpt2/prompts/signs.txt OUT --scales 1 2 3 5

OUT/s<scale>/<k>/ is generate's output folder for prompt k (kept: a rerun resumes there);
OUT/sweep.json and OUT/sweep.md hold the exact-match read-back per scale (all prompts pooled), and
OUT/sheet-s<scale>.png shows the first drawing of every prompt with both readings.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from transformers.utils import logging as transformers_logging

from inverse_dalle.generation import CAPTIONS_FILE, SUMMARY_FILE, GenerationRequest, generate
from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.metrics import score
from ocr_common.synthetic.contact_sheet import contact_sheet, save_contact_sheet
from ocr_common.tables import write_table


def read_prompts(path: Path) -> list[str]:
    prompts = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    prompts = [p for p in prompts if p and not p.startswith("#")]
    if not prompts:
        raise UserError(f"{path}: no prompts")
    return prompts


def sweep_scale(args: argparse.Namespace, prompts: list[str], scale: float) -> pd.DataFrame:
    """Every prompt drawn at `scale`; one row per drawing with both readings."""
    tables = []
    for number, prompt in enumerate(prompts):
        output = (args.output / f"s{scale:g}" / f"{number:02d}").resolve()
        if not (output / SUMMARY_FILE).is_file():  # a sweep that stopped resumes here
            generate(
                GenerationRequest(
                    model_dir=args.drawer,
                    prompt=prompt,
                    output_dir=output,
                    num_images=args.num_images,
                    seed=args.seed,
                    sampling={"guidance_scale": scale, **args.sampling},
                    reader_dir=args.reader,
                    tesseract=True,
                )
            )
        table = pd.read_csv(output / CAPTIONS_FILE, keep_default_na=False)
        table["img_path"] = [str(output / name) for name in table["img_path"]]
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("drawer", type=Path, help="text_to_image export")
    parser.add_argument("reader", type=Path, help="OCR export that reads the drawings back")
    parser.add_argument("prompts", type=Path, help="one prompt per line")
    parser.add_argument("output", type=Path)
    parser.add_argument("--scales", type=float, nargs="+", default=[1.0, 2.0, 3.0, 5.0])
    parser.add_argument("--num-images", type=int, default=4, help="drawings per prompt and scale")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, help="default: the drawer's")
    parser.add_argument("--top-p", type=float)
    parser.add_argument("--temperature", type=float)
    args = parser.parse_args()
    given = {"top_k": args.top_k, "top_p": args.top_p, "temperature": args.temperature}
    args.sampling = {k: v for k, v in given.items() if v is not None}
    prompts = read_prompts(args.prompts)
    transformers_logging.disable_progress_bar()  # one per model loaded
    results, lines = [], []
    for scale in args.scales:
        table = sweep_scale(args, prompts, scale)
        reader = score(list(table["reading"]), list(table["text"]))
        tesseract = score(list(table["tesseract"]), list(table["text"]))
        results.append(
            {"guidance_scale": scale, "reader": reader.as_dict(), "tesseract": tesseract.as_dict()}
        )
        lines.append(
            f"| {scale:g} | {reader.word_accuracy:.1%} | {reader.cer:.3f} | "
            f"{tesseract.word_accuracy:.1%} | {tesseract.cer:.3f} |"
        )
        print(lines[-1], flush=True)
        first = table.groupby("text", sort=False).head(1).copy()
        first["font"] = [
            f"reader: {r} · Tesseract: {t}"
            for r, t in zip(first["reading"], first["tesseract"], strict=True)
        ]
        sheet_table = args.output / f"sheet-s{scale:g}.csv"
        write_table(first[["img_path", "text", "font"]], sheet_table)
        sheet = contact_sheet(sheet_table, count=len(first), columns=4)
        save_contact_sheet(sheet, args.output / f"sheet-s{scale:g}.png")
    settings = {**vars(args), "prompts": prompts}
    write_json(
        args.output / "sweep.json",
        {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in settings.items()},
         "results": results},
    )  # fmt: skip
    header = [
        f"{len(prompts)} prompts × {args.num_images} drawings, seed {args.seed}, "
        f"drawer {args.drawer}, reader {args.reader}",
        "",
        "| guidance scale | reader exact | reader CER | Tesseract exact | Tesseract CER |",
        "|---:|---:|---:|---:|---:|",
    ]
    write_text_atomic(args.output / "sweep.md", "\n".join(header + lines) + "\n")
    print(f"wrote {args.output / 'sweep.md'}")


if __name__ == "__main__":
    run_cli(main)
