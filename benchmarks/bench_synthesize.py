"""Synthetic-data throughput: images per second for a 10 000-image dataset on this machine.

    python benchmarks/bench_synthesize.py [--images 10000] [--workers N]

Writes benchmarks/results/synthesize.json. The CPU may be shared with jobs this container cannot
see, so the CPU time spent per image (this process and its workers) is recorded beside the
wall-clock rate: it does not depend on what else the machine runs.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import tempfile
from pathlib import Path

from ocr_common.cores import available_cores
from ocr_common.errors import run_cli
from ocr_common.json_files import write_json
from ocr_common.synthetic import synthesize

RESULT = Path(__file__).resolve().parent / "results" / "synthesize.json"


def _cpu_seconds() -> float:
    """User + system CPU time of this process and of its finished child processes."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=10_000, help="total images (80/10/10 split)")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    tenth = args.images // 10
    load_before = os.getloadavg()
    cpu_before = _cpu_seconds()
    with tempfile.TemporaryDirectory() as folder:
        report = synthesize(
            folder,
            num_train=args.images - 2 * tenth,
            num_validation=tenth,
            num_test=tenth,
            seed=args.seed,
            workers=args.workers,
        )
        cpu_seconds = _cpu_seconds() - cpu_before  # pool workers are reaped by now
        bytes_written = sum(p.stat().st_size for p in Path(folder).rglob("*.png"))
    result = {
        "images": sum(report.counts.values()),
        "seconds": round(report.seconds, 2),
        "images_per_second": round(report.images_per_second, 1),
        "cpu_ms_per_image": round(1000 * cpu_seconds / max(1, sum(report.counts.values())), 2),
        "workers": args.workers or available_cores(),
        "cpu_count": os.cpu_count(),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "mean_png_kib": round(bytes_written / 1024 / max(1, sum(report.counts.values())), 2),
        "train_coverage": {
            "ksx1001_syllables_seen": report.coverage["train"].ksx1001_seen,
            "ksx1001_share": round(report.coverage["train"].ksx1001_share, 4),
            "distinct_characters": report.coverage["train"].distinct_characters,
        },
        "fonts": {split: len(names) for split, names in report.fonts.items()},
        "texts_redrawn": report.redrawn_texts,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    write_json(RESULT, result)
    print(report.summary())
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    run_cli(main)
