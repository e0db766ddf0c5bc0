"""The original GPU path end to end, each step timed: one command on a fresh GPU machine.

    python benchmarks/gpu_check.py [--root runs/gpu-check] [--output benchmarks/results/gpu.json]
    python benchmarks/gpu_check.py --cpu   # the same steps at toy sizes on CPU (what the tests run)
    python benchmarks/gpu_check.py --data DIR   # a dataset synthesised elsewhere (no fonts here)

synthesise → VQVAE-f16 train → tokenise → export → GPT-2 base train → export → read (evaluate) →
finetune → draw (read back by the reader) → benchmark. Every step runs the user-facing command
with the shipped configs (vqvae-f16-16384.yaml, gpt2-base.yaml, gpt2-base-finetune.yaml) at tiny
budgets through key=value overrides; --cpu also shrinks the models and keeps their bf16-mixed
precision (Lightning runs it on CPU), so the clipping and autocast paths run there too. Writes
each step's seconds and figures, the device and the library versions to --output; the root
folder (an earlier check's) is replaced.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import lightning
import torch
import transformers

from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.tables import read_table

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
VQVAE_CONFIG = "config/vqvae-f16-16384.yaml"
GPT2_CONFIG = "config/gpt2-base.yaml"
FINETUNE_CONFIG = "config/gpt2-base-finetune.yaml"
PROMPT = "약국"
MARKER = ".gpu-check"  # the root is replaced only when an earlier check made it


@dataclass(frozen=True)
class Budget:
    device: str
    train_images: int
    validation_images: int
    vqvae_steps: int
    gpt2_steps: int
    finetune_steps: int
    draw_images: int
    num_codes: int  # the VQVAE codebook, and so the GPT-2's visual vocabulary
    vqvae: tuple[str, ...]  # overrides of the VQVAE config
    gpt2: tuple[str, ...]  # overrides of both GPT-2 configs' train:
    gpt2_model: tuple[str, ...]  # overrides of the GPT-2 base model (training from scratch)
    bench: tuple[str, ...]  # bench_gpt2.py options


# About 5 minutes on one H200 (16 cores), most of it the commands' start-up; loader workers for
# 16 cores (the configs' 8 left the VQVAE waiting a third of its loop).
GPU = Budget(
    device="cuda",
    train_images=4_000,
    validation_images=256,
    vqvae_steps=200,
    gpt2_steps=150,
    finetune_steps=50,
    draw_images=8,
    num_codes=16_384,
    vqvae=("train.batch_size=64", "train.num_workers=14", "optim.warmup_steps=50"),
    gpt2=("train.batch_size=128", "train.num_workers=8", "optim.scheduler.num_warmup_steps=20"),
    gpt2_model=(),
    bench=("--train-steps=10", "--read-samples=256", "--batch-sizes=64,256"),  # batch 1: minutes
)

CPU = Budget(
    device="cpu",
    train_images=32,
    validation_images=8,
    vqvae_steps=2,
    gpt2_steps=2,
    finetune_steps=2,
    draw_images=2,
    num_codes=64,
    vqvae=(
        "model.encoder.num_layers=[1,1,1,1,1]",
        "model.encoder.hidden_dims=[8,8,8,8,8]",
        "model.decoder.num_layers=[1,1,1,1,1]",
        "model.decoder.hidden_dims=[8,8,8,8,8]",
        "model.quantizer.num_embeddings=64",
        "model.quantizer.embedding_dim=16",
        "model.quantizer.factorized_dim=8",
        "train.batch_size=4",
        "train.num_workers=0",
        "train.accelerator=cpu",
        "train.devices=1",
    ),
    gpt2=(
        "train.batch_size=4",
        "train.num_workers=0",
        "train.accelerator=cpu",
        "train.devices=1",
        "optim.scheduler.num_warmup_steps=1",
    ),
    gpt2_model=("model.n_embd=32", "model.n_layer=2", "model.n_head=2", "model.n_positions=256"),
    bench=("--train-steps=2", "--read-samples=8", "--batch-sizes=1,8", "--threads=1"),
)


def run(command: list[object], cwd: Path, log: Path) -> None:
    """Run a command (output to `log`); a failure is one line: the script, its last output line
    and the log holding the rest."""
    print("$", " ".join(map(str, command)), flush=True)
    with log.open("w", encoding="utf-8") as file:
        result = subprocess.run(
            [str(c) for c in command], cwd=cwd, stdout=file, stderr=subprocess.STDOUT, text=True
        )
    if result.returncode != 0:
        last = (log.read_text(encoding="utf-8").strip().splitlines() or ["no output"])[-1]
        raise UserError(f"{Path(str(command[1])).name} exited {result.returncode} ({last}); {log}")


def versions() -> dict[str, str | None]:
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "lightning": lightning.__version__,
        "transformers": transformers.__version__,
    }


def device_name(device: str) -> str:
    if device == "cuda":
        return f"{torch.cuda.get_device_name()} ({torch.cuda.device_count()} visible)"
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def data_wait(run_dir: Path) -> dict:
    """The share of a training loop's time spent waiting for batches (ocr_common.data_wait), as
    its metrics.csv last logged it; the rest is the steps' own time."""
    with (run_dir / "logs" / "metrics.csv").open(newline="", encoding="utf-8") as file:
        logged = [row.get("time/data_wait_share") for row in csv.DictReader(file)]
    shares = [float(value) for value in logged if value]
    return {"data_wait_share": round(shares[-1], 4)} if shares else {}


def check(budget: Budget, root: Path, given_data: Path | None = None) -> dict:
    """Every step in order; returns {step: {seconds, …figures}}. `given_data`: a synthesised
    dataset (train.csv, validation.csv) to use instead of synthesising one."""
    data, logs = given_data or root / "data", root / "logs"
    logs.mkdir()
    vqvae_run, vqvae_export = root / "vqvae", root / "vqvae-export"
    gpt2_run, reader, drawer = root / "gpt2", root / "reader", root / "drawer"
    tokens = root / "tokens"
    device = ["--device", budget.device]
    steps: dict[str, dict] = {}

    def step(name: str, work: Callable[[Path], dict]) -> None:
        start = time.perf_counter()
        figures = work(logs / f"{name}.log")
        steps[name] = {"seconds": round(time.perf_counter() - start, 2), **figures}
        print(f"== {name}: {steps[name]['seconds']:.1f} s", flush=True)

    def synthesize(log: Path) -> dict:
        if given_data:
            rows = {s: len(read_table(data / f"{s}.csv")) for s in ("train", "validation")}
            return {"images": sum(rows.values()), "given": str(given_data)}
        run(
            [
                PYTHON, "scripts/synthesize_dataset.py", data, "--train", budget.train_images,
                "--validation", budget.validation_images, "--test", 0, "--no-progress",
            ],
            REPO, log,
        )  # fmt: skip
        return {"images": budget.train_images + budget.validation_images}

    def train_vqvae(log: Path) -> dict:
        run(
            [
                PYTHON, "src/train.py", VQVAE_CONFIG, *budget.vqvae,
                f"data.train_dataset={data / 'train.csv'}",
                f"data.val_dataset={data / 'validation.csv'}",
                f"train.max_steps={budget.vqvae_steps}", "train.epochs=1000",
                "--run-dir", vqvae_run,
            ],
            REPO / "vqvae", log,
        )  # fmt: skip
        return {"steps": budget.vqvae_steps, **data_wait(vqvae_run)}

    def tokenize(log: Path) -> dict:
        rows = {}
        for split in ("train", "validation"):
            output = tokens / f"{split}.parquet"
            run(
                [
                    PYTHON, "src/predict.py", vqvae_run / "config.yaml", vqvae_run / "last.ckpt",
                    "--dataset", data / f"{split}.csv", "--output", output, "--no-progress",
                    "--batch-size", 64, *device, "train.devices=1",
                ],
                REPO / "vqvae", log.with_name(f"tokenize-{split}.log"),
            )  # fmt: skip
            meta = json.loads(output.with_suffix(".meta.json").read_text(encoding="utf-8"))
            rows[split] = meta["num_rows"]
        return {"rows": rows}

    def export_vqvae(log: Path) -> dict:
        run(
            [
                PYTHON, "src/export.py", vqvae_run / "config.yaml", vqvae_run / "last.ckpt",
                vqvae_export,
            ],
            REPO / "vqvae", log,
        )  # fmt: skip
        return {}

    table_overrides = [
        f"data.train_dataset={tokens / 'train.parquet'}",
        f"data.val_dataset={tokens / 'validation.parquet'}",
        f"data.vqvae={vqvae_export}",
    ]

    def train_gpt2(log: Path) -> dict:
        run(
            [
                PYTHON, "src/train.py", GPT2_CONFIG, *budget.gpt2, *budget.gpt2_model,
                *table_overrides, f"data.num_visual_tokens={budget.num_codes}",
                f"train.max_steps={budget.gpt2_steps}", "train.epochs=1000",
                f"optim.scheduler.num_training_steps={budget.gpt2_steps}",
                f"train.validation_interval={budget.gpt2_steps}",
                "--run-dir", gpt2_run,
            ],
            REPO / "gpt2", log,
        )  # fmt: skip
        return {"steps": budget.gpt2_steps, **data_wait(gpt2_run)}

    def export_gpt2(log: Path) -> dict:
        run(
            [PYTHON, "src/export.py", gpt2_run / "config.yaml", gpt2_run / "last.ckpt", reader],
            REPO / "gpt2", log,
        )  # fmt: skip
        return {}

    def read(log: Path) -> dict:
        scores = root / "scores.json"
        run(
            [
                PYTHON, "src/evaluate.py", reader, data / "validation.csv", "--output", scores,
                *device,
            ],
            REPO / "gpt2", log,
        )  # fmt: skip
        report = json.loads(scores.read_text(encoding="utf-8"))
        return {
            "images": len(read_table(data / "validation.csv")),
            "word_accuracy": report["scores"]["all"]["word_accuracy"],
        }

    def finetune(log: Path) -> dict:
        run(
            [
                PYTHON, "src/finetune.py", FINETUNE_CONFIG, f"model={reader}", *budget.gpt2,
                *table_overrides[:2], f"train.max_steps={budget.finetune_steps}",
                "train.epochs=1000", f"optim.scheduler.num_training_steps={budget.finetune_steps}",
                f"train.validation_interval={budget.finetune_steps}",
                "--run-dir", root / "finetune", "--export-dir", drawer,
            ],
            REPO / "gpt2", log,
        )  # fmt: skip
        return {"steps": budget.finetune_steps}

    def draw(log: Path) -> dict:
        output = root / "generated"
        run(
            [
                PYTHON, "src/generate.py", drawer, PROMPT, "--num-images", budget.draw_images,
                "--output-dir", output, "--reader", reader, *device,
            ],
            REPO / "gpt2", log,
        )  # fmt: skip
        summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
        return {
            "images": summary["num_images"],
            "images_per_second": summary["images_per_second"],
            "read_back_word_accuracy": summary["read_back"]["word_accuracy"],
        }

    def benchmark(log: Path) -> dict:
        output = root / "bench_gpt2.json"
        run(
            [
                PYTHON, "benchmarks/bench_gpt2.py", "--config", REPO / "gpt2" / GPT2_CONFIG,
                *budget.gpt2_model, f"data.num_visual_tokens={budget.num_codes}",
                "--model-dir", reader, "--tokens", tokens / "validation.parquet",
                "--images", data / "validation.csv", *budget.bench, *device, "--output", output,
            ],
            REPO, log,
        )  # fmt: skip
        result = json.loads(output.read_text(encoding="utf-8"))
        training, reading = result["training"], result["reading"]
        end_to_end = reading.get("end_to_end_from_image_files", {})
        return {
            "training_precision": training["precision"],
            "training_tokens_per_second": training["tokens_per_second"],
            "model_flops_utilisation": training["model_flops_utilisation"],
            "matmul_peak_dtype": result["matmul_peak_dtype"],
            "matmul_peak_flops": result["matmul_peak_flops"],
            "reading_images_per_second_from_token_grids": reading["from_token_grids"][
                "images_per_second_by_batch_size"
            ],
            "reading_images_per_second_end_to_end": end_to_end.get(
                "images_per_second_by_batch_size"
            ),
        }

    for name, work in (
        ("synthesize", synthesize),
        ("train_vqvae", train_vqvae),
        ("tokenize", tokenize),
        ("export_vqvae", export_vqvae),
        ("train_gpt2", train_gpt2),
        ("export_gpt2", export_gpt2),
        ("read", read),
        ("finetune", finetune),
        ("draw", draw),
        ("benchmark", benchmark),
    ):
        step(name, work)
    return steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cpu", action="store_true", help="toy sizes on CPU (the tests' mode)")
    parser.add_argument("--root", type=Path, help="work folder, replaced (default: runs/gpu-check)")
    parser.add_argument(
        "--data",
        type=Path,
        help="a dataset synthesize_dataset.py made (train.csv, validation.csv) to use instead of "
        "synthesising one: for a machine without the fonts",
    )
    parser.add_argument(
        "--output",
        type=Path,
        help="default: benchmarks/results/gpu.json (--cpu: gpu-check-cpu.json)",
    )
    args = parser.parse_args()
    budget = CPU if args.cpu else GPU
    if budget.device == "cuda" and not torch.cuda.is_available():
        raise UserError("no CUDA device here: run with --cpu for the toy-sized CPU check")
    root = (args.root or REPO / "runs" / ("cpu-check" if args.cpu else "gpu-check")).resolve()
    output = args.output or REPO / "benchmarks" / "results" / (
        "gpu-check-cpu.json" if args.cpu else "gpu.json"
    )
    if root.exists() and any(root.iterdir()) and not (root / MARKER).is_file():
        raise UserError(f"{root}: not empty and not an earlier check's folder; give another --root")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / MARKER).touch()
    start = time.perf_counter()
    steps = check(budget, root, args.data and args.data.resolve())
    report = {
        "mode": "cpu (toy sizes)" if args.cpu else "gpu (shipped configs, tiny budgets)",
        "device": device_name(budget.device),
        "versions": versions(),
        "total_seconds": round(time.perf_counter() - start, 1),
        "steps": steps,
    }
    write_json(output, report)
    print(f"all {len(steps)} steps passed in {report['total_seconds']:.0f} s; wrote {output}")


if __name__ == "__main__":
    run_cli(main)
