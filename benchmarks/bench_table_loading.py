"""Start-up time and memory of loading a large token table, as every GPT-2 rank would.

    python benchmarks/bench_table_loading.py [--rows 1000000] [--work-dir /tmp/bench_tables]

Generates a token table of realistic size (f16 VQVAE, 16 384 codes, 128-token budget: one
template per row from the aspect ratios of text crops; 2–10 Hangul syllables of text), writes it
as CSV and Parquet, then loads it in a fresh process per method and measures the wall time until
rows can be read, the process's peak resident memory, and the time to read 10 000 random rows'
tokens (a data set's __getitem__). Writes benchmarks/results/table_loading.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from ocr_common.errors import run_cli
from ocr_common.hangul import ksx1001_hangul
from ocr_common.json_files import write_json
from ocr_common.tables import arrow_cache_path, open_arrow_table, read_table

RESULTS = Path(__file__).resolve().parent / "results" / "table_loading.json"
NUM_EMBEDDINGS = 16384
MAX_LENGTH = 128
RANDOM_READS = 10_000
METHODS = {
    "pandas_read_csv": "read_table(CSV): pandas parses every row into Python strings",
    "pandas_read_parquet": "read_table(Parquet): decoded into pandas in memory",
    "arrow_first_open_parquet": "open_arrow_table(Parquet), no cache yet: converts once to Arrow",
    "arrow_mmap": "open_arrow_table again: the Arrow cache memory-mapped",
}


def generate(rows: int, path_csv: Path, path_parquet: Path, seed: int) -> dict[str, float]:
    from vqvae.shapes import choose_template

    rng = np.random.default_rng(seed)
    ids = np.array([str(i) for i in range(NUM_EMBEDDINGS)], dtype=object)
    # Crops are mostly wide lines (aspect 2–12) with some vertical ones (aspect 1/8–1/2).
    aspects = np.where(
        rng.random(rows) < 0.85, rng.uniform(2, 12, rows), rng.uniform(1 / 8, 1 / 2, rows)
    )
    templates = {}
    syllables = ksx1001_hangul()
    text_rng = random.Random(seed)
    tokens, texts = [], []
    for i, aspect in enumerate(aspects):
        key = round(float(aspect), 1)
        if key not in templates:
            templates[key] = choose_template(int(key * 64), 64, MAX_LENGTH)
        height, width = templates[key]
        codes = ids[rng.integers(0, NUM_EMBEDDINGS, height * width)]
        tokens.append(
            "\t".join(" ".join(codes[r * width : (r + 1) * width]) for r in range(height))
        )
        texts.append("".join(text_rng.choices(syllables, k=text_rng.randint(2, 10))))
        if i % 200_000 == 0:
            print(f"generated {i} rows", flush=True)
    table = pd.DataFrame(
        {
            "img_path": [f"images/train/{i:08d}.png" for i in range(rows)],
            "text": texts,
            "orientation": np.where(aspects >= 1, "horizontal", "vertical"),
            "visual_tokens": tokens,
        }
    )
    table.to_csv(path_csv, index=False)
    table.to_parquet(path_parquet, index=False)
    mean_tokens = float(np.mean([t.count(" ") + t.count("\t") + 1 for t in tokens[:10_000]]))
    return {
        "rows": rows,
        "mean_codes_per_row": round(mean_tokens, 1),
        "csv_mb": round(path_csv.stat().st_size / 2**20, 1),
        "parquet_mb": round(path_parquet.stat().st_size / 2**20, 1),
    }


def memory_mb(field: str) -> float:
    """VmHWM (peak) or VmRSS (now) of this process; unlike ru_maxrss, reset by exec."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return round(int(line.split()[1]) / 1024, 1)
    raise RuntimeError(f"no {field} in /proc/self/status")


def measure(method: str, csv_path: Path, parquet_path: Path) -> dict[str, float]:
    """Runs in a fresh process: load, then random reads; times and memory."""
    base_rss = memory_mb("VmRSS")
    start = time.perf_counter()
    if method == "pandas_read_csv":
        column = read_table(csv_path)["visual_tokens"]
        read = column.iat.__getitem__
    elif method == "pandas_read_parquet":
        column = read_table(parquet_path)["visual_tokens"]
        read = column.iat.__getitem__
    else:
        if method == "arrow_first_open_parquet":
            arrow_cache_path(parquet_path).unlink(missing_ok=True)
        column = open_arrow_table(parquet_path)["visual_tokens"]

        def read(i: int) -> str:
            return column[i].as_py()

    load_s = time.perf_counter() - start
    loaded_rss = memory_mb("VmRSS")
    picks = random.Random(0).sample(range(len(column)), RANDOM_READS)
    start = time.perf_counter()
    total = sum(len(read(i)) for i in picks)
    reads_s = time.perf_counter() - start
    assert total > 0
    return {
        "load_s": round(load_s, 2),
        "rss_before_mb": base_rss,
        "rss_after_load_mb": loaded_rss,
        "peak_rss_mb": memory_mb("VmHWM"),
        "rss_after_random_reads_mb": memory_mb("VmRSS"),
        "random_read_us_per_row": round(reads_s / RANDOM_READS * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--work-dir", type=Path, default=Path("/tmp/bench_tables"))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--measure", choices=sorted(METHODS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    csv_path = args.work_dir / f"tokens-{args.rows}.csv"
    parquet_path = csv_path.with_suffix(".parquet")
    if args.measure:  # child process
        print(json.dumps(measure(args.measure, csv_path, parquet_path)))
        return
    args.work_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    table = generate(args.rows, csv_path, parquet_path, args.seed)
    print(f"generated in {time.perf_counter() - started:.0f} s: {table}")
    results = {}
    for method, description in METHODS.items():
        command = [sys.executable, __file__, "--rows", str(args.rows), "--measure", method]
        child = subprocess.run(
            [*command, "--work-dir", str(args.work_dir)],
            capture_output=True,
            text=True,
            check=True,
        )
        results[method] = {"what": description, **json.loads(child.stdout.strip().splitlines()[-1])}
        print(method, results[method])
    report = {
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "table": table,
        "methods": results,
        "note": "memory of a fresh Python process with pandas/pyarrow imported (rss_before_mb); "
        "mapped pages count in RSS only once touched, are shared by every process mapping the "
        "same file and can be dropped by the kernel at any time (page cache)",
    }
    write_json(RESULTS, report)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    run_cli(main)
