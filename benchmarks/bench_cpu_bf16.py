"""Would bf16 speed up reading on this CPU? The reader's VQVAE encoder (most of a line's reading
time on CPU) in float32 and under bf16 autocast, on the same lines:

    python benchmarks/bench_cpu_bf16.py pretrained/korean-ocr-tiny \
        data/signs/test-heldout-fonts.csv [--lines 200] [--threads 1] [--output FILE.json]

Prints and writes the encoder's seconds in each precision (the better of two rounds), the share
of codes and of token grids that bf16 changes, and the word accuracy of the float32 reader on
either precision's grids. Reading stays float32 on CPU (ocr_common.devices.fast_inference) while
this says bf16 is no faster or reads differently.
"""

from __future__ import annotations

import argparse
import time
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


def flat(grids: list[list[list[int]]]) -> list[int]:
    return [code for grid in grids for row in grid for code in row]


def timed_encode(
    ocr: InverseDalleOCR, inputs: list[torch.Tensor], bf16: bool, rounds: int = 2
) -> tuple[list[list[list[int]]], float]:
    """(grids, the best of `rounds` wall-clock seconds) of encoding `inputs`."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            grids = ocr.encode(inputs, batch_size=16)
        best = min(best, time.perf_counter() - start)
    return grids, best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_dir", type=Path, help="exported reader with its VQVAE")
    parser.add_argument("table", type=Path, help="dataset table: img_path,text")
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/cpu-bf16.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    ocr = InverseDalleOCR.from_pretrained(args.model_dir, device="cpu")
    table = read_table(args.table).head(args.lines)
    paths = resolve_image_paths(table, args.table)
    inputs = [ocr.prepare(load_image(path)) for path in paths]
    fp32, fp32_seconds = timed_encode(ocr, inputs, bf16=False)
    bf16, bf16_seconds = timed_encode(ocr, inputs, bf16=True)
    pairs = list(zip(flat(fp32), flat(bf16), strict=True))  # same templates: same shapes
    references = table["text"].tolist()
    accuracy = {
        name: score([ocr.text(r) for r in ocr.read_grids(grids)], references).word_accuracy
        for name, grids in (("fp32", fp32), ("bf16", bf16))
    }
    result = {
        "model": str(args.model_dir),
        "lines": len(inputs),
        "threads": args.threads,
        "encoder_seconds": {"fp32": fp32_seconds, "bf16_autocast": bf16_seconds},
        "bf16_speed_vs_fp32": fp32_seconds / bf16_seconds,
        "codes_changed": sum(a != b for a, b in pairs) / len(pairs),
        "grids_changed": sum(g != h for g, h in zip(fp32, bf16, strict=True)) / len(fp32),
        "word_accuracy": accuracy,
        "versions": {"torch": torch.__version__},
    }
    write_json(args.output, result)
    print(
        f"encoder on {len(inputs)} lines, {args.threads} thread(s): fp32 {fp32_seconds:.2f} s, "
        f"bf16 autocast {bf16_seconds:.2f} s ({result['bf16_speed_vs_fp32']:.2f}× fp32's speed); "
        f"bf16 changes {result['codes_changed']:.1%} of codes and {result['grids_changed']:.0%} of "
        f"grids; word accuracy fp32 {accuracy['fp32']:.1%}, bf16 {accuracy['bf16']:.1%}"
    )


if __name__ == "__main__":
    run_cli(main)
