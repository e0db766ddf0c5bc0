"""Would lower precision or torch.compile speed up reading on this CPU? The reader's VQVAE encoder
(about half of a line's reading time on CPU) in float32, under bf16 and fp16 autocast, and
compiled by torch.compile (inductor; needs a C++ compiler), on the same lines:

    python benchmarks/bench_cpu_encoder.py pretrained/korean-ocr-tiny \
        data/signs/test-heldout-fonts.csv [--lines 200] [--threads 1] [--no-compile] [--output F]

Prints and writes each variant's encoder seconds (the best of two rounds: the first compiles),
its speed against float32, the share of codes and of token grids it changes, and the word
accuracy of the float32 reader on its grids. Reading stays float32 and eager on CPU
(ocr_common.devices.fast_inference) while this says the others are no faster or read
differently.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import torch
from transformers.utils import logging as transformers_logging

from inverse_dalle import InverseDalleOCR
from ocr_common.errors import run_cli
from ocr_common.images import load_image
from ocr_common.json_files import write_json
from ocr_common.metrics import score
from ocr_common.tables import read_table, resolve_image_paths

ROOT = Path(__file__).resolve().parents[1]
AUTOCAST = {"bf16_autocast": torch.bfloat16, "fp16_autocast": torch.float16}


def flat(grids: list[list[list[int]]]) -> list[int]:
    return [code for grid in grids for row in grid for code in row]


def timed_encode(
    ocr: InverseDalleOCR,
    inputs: list[torch.Tensor],
    context: Callable[[], AbstractContextManager] = nullcontext,
    rounds: int = 2,
) -> tuple[list[list[list[int]]], float]:
    """(grids, the best of `rounds` wall-clock seconds) of encoding `inputs` within `context`."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        with context():
            grids = ocr.encode(inputs, batch_size=16)
        best = min(best, time.perf_counter() - start)
    return grids, best


def compiled_encode(
    ocr: InverseDalleOCR, inputs: list[torch.Tensor]
) -> tuple[list[list[list[int]]], float]:
    """timed_encode with the encoder compiled (one graph for every template: dynamic shapes)."""
    model = ocr.tokenizer.model
    eager = model.encoder
    model.encoder = torch.compile(eager, dynamic=True)
    try:
        return timed_encode(ocr, inputs)
    finally:
        model.encoder = eager


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="exported reader with its VQVAE")
    parser.add_argument("table", type=Path, help="dataset table: img_path,text")
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--no-compile", action="store_true", help="skip torch.compile")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/cpu-encoder.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    ocr = InverseDalleOCR.from_pretrained(args.model_dir, device="cpu")
    table = read_table(args.table).head(args.lines)
    paths = resolve_image_paths(table, args.table)
    inputs = [ocr.prepare(load_image(path)) for path in paths]
    runs = {"fp32": timed_encode(ocr, inputs)}
    for name, dtype in AUTOCAST.items():
        runs[name] = timed_encode(ocr, inputs, lambda d=dtype: torch.autocast("cpu", dtype=d))
    if not args.no_compile:
        runs["compiled"] = compiled_encode(ocr, inputs)
    fp32, fp32_seconds = runs["fp32"]
    references = table["text"].tolist()
    variants = {}
    for name, (grids, seconds) in runs.items():
        pairs = list(zip(flat(fp32), flat(grids), strict=True))  # same templates: same shapes
        variants[name] = {
            "encoder_seconds": seconds,
            "speed_vs_fp32": fp32_seconds / seconds,
            "codes_changed": sum(a != b for a, b in pairs) / len(pairs),
            "grids_changed": sum(g != h for g, h in zip(fp32, grids, strict=True)) / len(fp32),
            "word_accuracy": score(
                [ocr.text(r) for r in ocr.read_grids(grids)], references
            ).word_accuracy,
        }
    result = {
        "model": str(args.model_dir),
        "lines": len(inputs),
        "threads": args.threads,
        "variants": variants,
        "versions": {"torch": torch.__version__},
    }
    write_json(args.output, result)
    print(f"VQVAE encoder on {len(inputs)} lines, {args.threads} thread(s):")
    for name, v in variants.items():
        print(
            f"  {name:<14} {v['encoder_seconds']:6.2f} s  {v['speed_vs_fp32']:.2f}× fp32's speed  "
            f"codes changed {v['codes_changed']:6.1%}  grids changed {v['grids_changed']:4.0%}  "
            f"word accuracy {v['word_accuracy']:.1%}"
        )


if __name__ == "__main__":
    run_cli(main)
