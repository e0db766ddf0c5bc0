"""Tokenisation throughput: images/s, quantiser peak memory, time shares of quantiser and loading.

    python benchmarks/bench_tokenize.py [--config vqvae/config/vqvae-tiny.yaml] [--checkpoint C]
        [--dataset data/synth/validation.csv] [--images 256] [--batch-size 64]

Writes benchmarks/results/tokenize.json. Without a checkpoint the weights are random: speed and
memory do not depend on the values. Peak quantiser memory is measured on CUDA; on CPU the largest
similarity block the chunked search holds is reported, beside what a B×N×h×w tensor would take.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader, SequentialSampler

from ocr_common.config import load_config
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json
from ocr_common.sampling import ShardedBatchSampler
from ocr_common.tables import read_table, resolve_image_paths
from vqvae import VQVAE
from vqvae.checkpoint import load_from_checkpoint
from vqvae.config import VQVAEConfig
from vqvae.data import TemplateDataset, collate_same_template

ROOT = Path(__file__).resolve().parents[1]
RESULT = ROOT / "benchmarks" / "results" / "tokenize.json"


class Stopwatch:
    """Accumulates the time a module's forward takes (synchronising CUDA so times are real)."""

    def __init__(self, module: torch.nn.Module, device: torch.device) -> None:
        self.seconds = 0.0
        self.device = device
        module.register_forward_pre_hook(self._start)
        module.register_forward_hook(self._stop)

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()

    def _start(self, *_: object) -> None:
        self._sync()
        self._t = time.perf_counter()

    def _stop(self, *_: object) -> None:
        self._sync()
        self.seconds += time.perf_counter() - self._t


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default=str(ROOT / "vqvae/config/vqvae-tiny.yaml"))
    parser.add_argument("--checkpoint", help="trained weights (default: random init)")
    parser.add_argument("--dataset", default=str(ROOT / "data/synth/validation.csv"))
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=1)
    args = parser.parse_args()
    config = load_config(VQVAEConfig, args.config)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = (
        load_from_checkpoint(config.model, args.checkpoint)
        if args.checkpoint
        else VQVAE(config.model).eval()
    ).to(device)
    table = read_table(args.dataset).head(args.images)
    data = TemplateDataset(
        resolve_image_paths(table, args.dataset),
        config.data.max_length,
        model.downsample,
        channels=model.num_channels,
    )
    loader = DataLoader(
        data,
        batch_sampler=ShardedBatchSampler(
            SequentialSampler(data), args.batch_size, False, data.templates
        ),
        collate_fn=collate_same_template,
        num_workers=args.num_workers,
    )
    quantizer_time = Stopwatch(model.quantizer, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    loading = images = largest_batch_vectors = 0
    start = time.perf_counter()
    with torch.inference_mode():
        waited = time.perf_counter()
        for batch in loader:
            loading += time.perf_counter() - waited
            x = batch["images"].to(device)
            indices = model.encode(x)
            images += x.shape[0]
            largest_batch_vectors = max(largest_batch_vectors, indices.numel())
            waited = time.perf_counter()
    if device.type == "cuda":
        torch.cuda.synchronize()
    total = time.perf_counter() - start
    quantizer = config.model.quantizer
    rows_per_chunk = max(1, quantizer.search_chunk_elements // quantizer.num_embeddings)
    chunk_bytes = min(rows_per_chunk, largest_batch_vectors) * quantizer.num_embeddings * 4
    result = {
        "config": Path(args.config).name,
        "device": torch.cuda.get_device_name()
        if device.type == "cuda"
        else platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "images": images,
        "num_skipped": data.num_skipped,
        "batch_size": args.batch_size,
        "max_length": config.data.max_length,
        "images_per_second": images / total,
        "quantizer_time_share": quantizer_time.seconds / total,
        "data_loading_time_share": loading / total,
        "similarity_block_bytes": chunk_bytes,
        "full_similarity_tensor_bytes": largest_batch_vectors * quantizer.num_embeddings * 4,
        "cuda_peak_memory_bytes": torch.cuda.max_memory_allocated()
        if device.type == "cuda"
        else None,
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    write_json(RESULT, result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    run_cli(main)
