"""`make bench`: every benchmark on the demo's artefacts, then one summary table.

    python benchmarks/run_all.py [--root runs/demo]

Needs a finished `make demo` (its VQVAE checkpoint, token tables and exported reader). Each script
writes its own `benchmarks/results/<name>.json`; the table of headline figures is printed and
written to `benchmarks/results/summary.md`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError, run_cli

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def commands(demo: Path) -> dict[str, list[str]]:
    return {
        "synthesize": ["bench_synthesize.py"],
        "tokenize": [
            "bench_tokenize.py",
            f"--checkpoint={demo / 'vqvae' / 'last.ckpt'}",
            f"--dataset={demo / 'data' / 'validation.csv'}",
        ],
        "table_loading": ["bench_table_loading.py"],
        "gpt2": [
            "bench_gpt2.py",
            f"--model-dir={demo / 'export'}",
            f"--tokens={demo / 'tokens' / 'validation.parquet'}",
            f"--images={demo / 'data' / 'validation.csv'}",
        ],
    }


def summary() -> str:
    def load(name: str) -> dict:
        return json.loads((RESULTS / f"{name}.json").read_text(encoding="utf-8"))

    synthesize, tokenize, tables, gpt2 = (
        load(n) for n in ("synthesize", "tokenize", "table_loading", "gpt2")
    )
    training, reading = gpt2["training"], gpt2["reading"]
    end_to_end = reading.get("end_to_end_from_image_files", {})
    by_batch = end_to_end.get("images_per_second_by_batch_size", {})
    best_end_to_end = max(by_batch.values(), default=float("nan"))
    per_cpu = end_to_end.get("images_per_cpu_second_by_batch_size", {})  # a busy machine's figure
    mapped = tables["methods"]["arrow_mmap"]
    rows = [
        ("synthetic images/s", f"{synthesize['images_per_second']:.0f}"),
        ("tokenising images/s (tiny VQVAE)", f"{tokenize['images_per_second']:.0f}"),
        ("GPT-2 training tokens/s", f"{training['tokens_per_second']:.0f}"),
        ("GPT-2 model-FLOPs utilisation", f"{training['model_flops_utilisation']:.1%}"),
        (
            "reading images/s from token grids, batch 1 / best",
            f"{reading['from_token_grids']['batch_1_images_per_second']:.1f} / "
            f"{max(reading['from_token_grids']['images_per_second_by_batch_size'].values()):.1f}",
        ),
        ("reading images/s end to end from files, best batch", f"{best_end_to_end:.1f}"),
        (
            "Tesseract images/s on the same files",
            f"{reading.get('tesseract_images_per_second', float('nan')):.1f}",
        ),
        (
            "end to end, images per CPU-second: ours (best batch) / Tesseract",
            f"{max(per_cpu.values(), default=float('nan')):.1f} / "
            f"{reading.get('tesseract_images_per_cpu_second', float('nan')):.1f}",
        ),
        (
            "1 M-row token table: load s / RSS MB (memory-mapped Arrow)",
            f"{mapped['load_s']:.2f} / {mapped['rss_after_load_mb']:.0f}",
        ),
    ]
    lines = ["| benchmark | figure |", "|---|---:|", *(f"| {k} | {v} |" for k, v in rows)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT / "runs" / "demo")
    args = parser.parse_args()
    if not (args.root / "export" / "model.safetensors").is_file():
        raise UserError(f"{args.root}: no finished demo (run `make demo` first)")
    for name, command in commands(args.root.resolve()).items():
        print(f"== {name}", flush=True)
        subprocess.run(
            [sys.executable, str(ROOT / "benchmarks" / command[0]), *command[1:]], check=True
        )
    table = summary()
    write_text_atomic(RESULTS / "summary.md", table)
    print(table)


if __name__ == "__main__":
    run_cli(main)
