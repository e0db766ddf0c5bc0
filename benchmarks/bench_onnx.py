"""Reading through onnxruntime beside PyTorch on CPU, one thread each.

    OMP_NUM_THREADS=1 python benchmarks/bench_onnx.py [--model-dir pretrained/korean-ocr-tiny]
        [--repeat 4] [--rounds 3] [--batch-sizes 1 16] [--output F]

Writes benchmarks/results/onnx.json (or --output). The 12 images of examples/ repeated --repeat
times are read end to end (file decoding, template, VQVAE encoder, greedy GPT-2) by
InverseDalleOCR (PyTorch, torch.set_num_threads(1)) and by OnnxOCR (onnxruntime,
intra_op_num_threads=1; with reader_cached.onnx, and without: reader.onnx over the whole sequence
per token), alternately within each round, so a busy machine slows both alike;
each figure is the best round. CPU seconds per image (process time) are given too: a shared
machine distorts them less than wall time. The readings of the two must be identical.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import onnxruntime
import torch

from inverse_dalle import InverseDalleOCR
from inverse_dalle.onnx_export import export_onnx
from inverse_dalle.onnx_reading import OnnxOCR
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "onnx.json"


def timed(work: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process) of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    work()
    return time.perf_counter() - wall, time.process_time() - cpu


def shown(path: Path) -> str:
    """`path` relative to the repository when inside it (results are committed)."""
    path = path.resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=ROOT / "pretrained" / "korean-ocr-tiny")
    parser.add_argument("--onnx-dir", type=Path, help="existing ONNX files (default: export now)")
    parser.add_argument("--repeat", type=int, default=4, help="times the 12 examples are read")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args()
    if os.environ.get("OMP_NUM_THREADS") != "1":
        print("note: OMP_NUM_THREADS is not 1; torch is still limited to one thread")
    torch.set_num_threads(1)
    images = sorted((ROOT / "examples").glob("*.png")) * args.repeat
    if not images:
        raise UserError("no images in examples/")
    with tempfile.TemporaryDirectory() as scratch:
        onnx_dir = args.onnx_dir or export_onnx(args.model_dir, Path(scratch)).directory
        engines = {
            "pytorch": InverseDalleOCR.from_pretrained(args.model_dir, "cpu"),
            "onnxruntime": OnnxOCR.from_pretrained(args.model_dir, onnx_dir, threads=1),
            "onnxruntime_no_cache": OnnxOCR.from_pretrained(
                args.model_dir, onnx_dir, threads=1, use_cache=False
            ),
        }
        results: dict[str, dict] = {}
        for batch_size in args.batch_sizes:
            readings = {
                name: engine.read_batch(images[:12], batch_size)  # warm-up, and parity
                for name, engine in engines.items()
            }
            texts = {name: [text for text, _ in r] for name, r in readings.items()}
            best: dict[str, tuple[float, float]] = {}
            for _ in range(args.rounds):
                for name, engine in engines.items():
                    wall, cpu = timed(lambda e=engine, b=batch_size: e.read_batch(images, b))
                    best[name] = min(best.get(name, (wall, cpu)), (wall, cpu))
            row = {
                name: {
                    "images_per_second": round(len(images) / wall, 2),
                    "cpu_ms_per_image": round(1000 * cpu / len(images), 1),
                }
                for name, (wall, cpu) in best.items()
            }
            torch_rate = row["pytorch"]["images_per_second"]
            for name in list(row):
                row[name]["vs_pytorch"] = round(row[name]["images_per_second"] / torch_rate, 2)
            row["identical_readings"] = all(t == texts["pytorch"] for t in texts.values())
            print(
                f"batch {batch_size:>3}: "
                + ", ".join(
                    f"{name} {r['images_per_second']:.1f} images/s "
                    f"({r['cpu_ms_per_image']:.0f} CPU ms/image)"
                    for name, r in row.items()
                    if isinstance(r, dict)
                )
                + f"; identical readings: {row['identical_readings']}"
            )
            results[f"batch_{batch_size}"] = row
    summary = {
        "model": shown(args.model_dir),
        "images": len(images),
        "rounds": args.rounds,
        "threads": 1,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "versions": {
            "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__,
            "python": platform.python_version(),
        },
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    write_json(args.output, summary)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    run_cli(main)
