"""GPT-2 reader throughput: training tokens/s with model-FLOPs utilisation, reading images/s.

    python benchmarks/bench_gpt2.py [--config gpt2/config/gpt2-tiny.yaml] [key=value …]
        [--model-dir runs/demo/export] [--tokens runs/demo/tokens/validation.parquet]
        [--images runs/demo/data/validation.csv] [--device cuda] [--output F]

Writes benchmarks/results/gpt2.json (or --output). Training runs the real loss and optimiser
step of the config's model (random weights: speed does not depend on the values) on batches from
the token table; model-FLOPs utilisation divides the FLOPs the model needs (6·N per token for
the weights, plus attention and the output rows the loss actually uses) by a matmul peak
measured in the same run with the same threads. On CUDA it trains in bf16 autocast with the
fused AdamW, as the configs' bf16-mixed does, against a bf16 peak; on CPU in fp32 against an
fp32 peak. Reading uses an exported model (`src/export.py`): at batch 1 and over a sweep of
batch sizes, from token grids and end to end from image files (VQVAE included), beside
Tesseract's images/s on the same files (one process over a list of files) when it is installed;
end to end, both also per CPU-second of the reading process, which a busy machine does not
distort.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.data import default_collate
from transformers.utils import logging as transformers_logging

from inverse_dalle import InverseDalleOCR
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.data import OCRDataset, load_token_table, resolve_layout
from inverse_dalle.lightning_module import OCRModule, build_optimizer
from inverse_dalle.vocabulary import Vocabulary
from ocr_common import tesseract
from ocr_common.config import load_config
from ocr_common.devices import add_device_argument, resolve_device
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import tesseract_available
from vqvae.token_table import string_to_grid

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "gpt2.json"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(
    device: torch.device, dtype: torch.dtype, size: int = 1024, seconds: float = 3.0
) -> float:
    """Sustained matmul FLOP/s of this machine right now in `dtype` (fp32 without TF32)."""
    torch.backends.cuda.matmul.allow_tf32 = False
    a, b = (torch.randn(size, size, device=device, dtype=dtype) for _ in range(2))
    a @ b  # warm-up
    sync(device)
    start, count = time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        a @ b
        count += 1
        sync(device)
    return 2 * size**3 * count / (time.perf_counter() - start)


def training_flops(module: OCRModule, batch: dict[str, torch.Tensor]) -> float:
    """Model FLOPs of one training step (forward + backward = 3× forward), padding excluded."""
    config, layout = module.config.model, module.layout
    embedding = (
        module.model.transformer.wte.weight.numel() + module.model.transformer.wpe.weight.numel()
    )
    body = sum(p.numel() for p in module.model.parameters()) - embedding  # weights used per token
    tokens = int(batch["attention_mask"].sum())
    length = batch["input_ids"].shape[1]
    attention = 2 * 2 * config.n_layer * config.n_embd * length  # QKᵀ and AV per token
    text_rows, image_rows = layout.text_vocab_size, layout.num_codes + 2
    head = (
        2
        * config.n_embd
        * (
            int((batch["text_targets"] != -100).sum()) * text_rows
            + int((batch["image_targets"] != -100).sum()) * image_rows
        )
    )
    return 3 * (tokens * (2 * body + attention) + head)


def bench_training(
    config: InverseDalleConfig, tokens_table: Path, device, steps: int, bf16: bool
) -> dict:
    table = load_token_table(tokens_table, config.data)
    vocabulary = Vocabulary.build(table.texts, config.data.text_unit)
    module = OCRModule.create(config, vocabulary).to(device).train()
    if config.train.compile:
        module.compile_for_training()
    dataset = OCRDataset(table, module.layout, vocabulary)
    size = config.train.batch_size
    batches = [
        default_collate([dataset[(s * size + i) % len(dataset)] for i in range(size)])
        for s in range(steps + 2)
    ]
    optimizer = build_optimizer(list(module.named_parameters()), config.optim.optimizer)
    seconds = flops = 0.0
    real_tokens = 0
    for step, batch in enumerate(batches):
        batch = {k: v.to(device) for k, v in batch.items()}
        sync(device)
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext():
            loss = module.losses(batch)["loss"]
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        sync(device)
        if step >= 2:  # the first steps allocate and warm caches
            seconds += time.perf_counter() - start
            flops += training_flops(module, batch)
            real_tokens += int(batch["attention_mask"].sum())
    parameters = sum(p.numel() for p in module.parameters())
    return {
        "precision": "bf16 autocast" if bf16 else "fp32",
        "compiled": config.train.compile,
        "parameters": parameters,
        "batch_size": size,
        "sequence_length": module.layout.sequence_length,
        "steps": steps,
        "seconds_per_step": seconds / steps,
        "tokens_per_second": real_tokens / seconds,
        "sequence_slots_per_second": steps * size * module.layout.sequence_length / seconds,
        "model_flops_per_second": flops / seconds,
    }


def child_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def bench_reading(ocr: InverseDalleOCR, grids, images, batch_sizes: list[int]) -> dict:
    def rate(work, items: int) -> float:
        return rates(work, items)[0]

    def rates(work, items: int, cpu_seconds=time.process_time) -> tuple[float, float]:
        """Items per wall-clock second and per CPU-second (`cpu_seconds`: whose CPU time)."""
        work()  # warm-up
        start, cpu = time.perf_counter(), cpu_seconds()
        work()
        return items / (time.perf_counter() - start), items / (cpu_seconds() - cpu)

    from_tokens = {
        b: rate(lambda b=b: ocr.read_grids(grids, batch_size=b), len(grids)) for b in batch_sizes
    }
    best = max(from_tokens, key=from_tokens.get)
    result = {
        "from_token_grids": {
            "images": len(grids),
            "batch_1_images_per_second": from_tokens.get(1),
            "images_per_second_by_batch_size": from_tokens,
            "best_batch_size": best,
        }
    }
    if images:
        end_to_end = {
            b: rates(lambda b=b: ocr.read_batch(images, batch_size=b), len(images))
            for b in sorted({best} | {1} & set(batch_sizes))
        }
        result["end_to_end_from_image_files"] = {
            "images": len(images),
            "images_per_second_by_batch_size": {b: r[0] for b, r in end_to_end.items()},
            "images_per_cpu_second_by_batch_size": {b: r[1] for b, r in end_to_end.items()},
        }
        if ocr.device.type == "cpu" and torch.get_num_threads() > 1:
            # The same files read by one single-threaded process per thread (--workers).
            workers = torch.get_num_threads()
            wall, cpu = rates(
                lambda: ocr.read_batch(images, batch_size=best, workers=workers),
                len(images),
                lambda: time.process_time() + child_cpu_seconds(),
            )
            result["end_to_end_from_image_files"]["in_processes"] = {
                "workers": workers,
                "batch_size": best,
                "images_per_second": wall,
                "images_per_cpu_second": cpu,
            }
        if tesseract_available():  # the reference engine, one process over the same files
            wall, cpu = rates(lambda: tesseract.read_images(images), len(images), child_cpu_seconds)
            result["tesseract_images_per_second"] = wall
            result["tesseract_images_per_cpu_second"] = cpu
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "gpt2/config/gpt2-tiny.yaml"))
    parser.add_argument("--model-dir", default=str(ROOT / "runs/demo/export"))
    parser.add_argument("--tokens", default=str(ROOT / "runs/demo/tokens/validation.parquet"))
    parser.add_argument("--images", default=str(ROOT / "runs/demo/data/validation.csv"))
    parser.add_argument("--train-steps", type=int, default=10)
    parser.add_argument("--read-samples", type=int, default=128)
    parser.add_argument("--batch-sizes", default="1,8,32,128")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    add_device_argument(parser)
    parser.add_argument("--output", type=Path, default=RESULT, help="JSON to write")
    parser.add_argument("overrides", nargs="*", help="config key=value overrides")
    args = parser.parse_intermixed_args()
    torch.set_num_threads(args.threads)
    transformers_logging.disable_progress_bar()
    device = resolve_device(args.device)
    overrides = [*args.overrides, f"data.train_dataset={args.tokens}", "data.val_dataset=null"]
    if device.type == "cpu":
        overrides.append("train.precision=32-true")
    config = resolve_layout(load_config(InverseDalleConfig, args.config, overrides))
    # bf16 where the configs train in it (bf16-mixed on GPU); CPU bf16 matmuls lack the units.
    bf16 = device.type == "cuda" and config.train.precision.startswith("bf16")
    peak = matmul_peak(device, torch.bfloat16 if bf16 else torch.float32, 8192 if bf16 else 1024)
    training = bench_training(config, Path(args.tokens), device, args.train_steps, bf16)
    training["model_flops_utilisation"] = training["model_flops_per_second"] / peak
    print(
        f"training in {training['precision']} on {device.type}: model-FLOPs utilisation "
        f"{training['model_flops_utilisation']:.1%} of a {peak / 1e12:.2f} TFLOP/s "
        f"{'bf16' if bf16 else 'fp32'} matmul peak measured now"
        + ("" if bf16 else " (fp32 on CPU: no bf16 autocast, as the CPU configs train)")
    )
    ocr = InverseDalleOCR.from_pretrained(args.model_dir, device=device)
    table = read_table(args.tokens, ("img_path", "visual_tokens")).head(args.read_samples)
    grids = [string_to_grid(s) for s in table["visual_tokens"]]
    images = []
    if args.images and ocr.tokenizer is not None:
        image_table = read_table(args.images).head(args.read_samples)
        images = [str(p) for p in resolve_image_paths(image_table, args.images)]
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    result = {
        "config": Path(args.config).name,
        "model_dir": args.model_dir,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "matmul_peak_dtype": "bf16" if bf16 else "fp32",
        "matmul_peak_flops": peak,
        "training": training,
        "reading": bench_reading(ocr, grids, images, batch_sizes),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    write_json(args.output, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_cli(main)
