"""How many images a reading batch holds: a fixed number on CPU, as many as memory allows on a GPU.

On CPU a batch only amortises per-call overhead: 16 to 64 read alike (docs/benchmarks.md). On a
GPU a larger batch keeps it busy: the shipped reader read token grids at 1.5 k lines/s in batches
of 64 and 2.4–3.3 k in batches of 256 and 1 024 on an H200 (docs/gpu.md). How large fits depends
on the card, the reader and the lines, so reading on a GPU starts at GPU_BATCH and halves the
batch whenever the device runs out of memory, reading that chunk again; readings do not depend
on the batch size.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import TypeVar

import torch

from ocr_common.errors import UserError

CPU_BATCH = 64
GPU_BATCH = 1024

T = TypeVar("T")
R = TypeVar("R")


def default_batch_size(device: torch.device) -> int:
    """Images read at once on `device` when the user gives no --batch-size."""
    return GPU_BATCH if device.type == "cuda" else CPU_BATCH


class MemorySizedBatches:
    """Calls `read(items, batch_size)`, halving the batch size (and keeping it halved for the
    next calls) each time the device runs out of memory."""

    def __init__(self, batch_size: int | None, device: torch.device) -> None:
        """Start at `batch_size` (None: the device's default)."""
        if batch_size is None:
            batch_size = default_batch_size(device)
        if batch_size < 1:
            raise UserError(f"a batch holds at least 1 image, not {batch_size}")
        self.batch_size, self.device = batch_size, device

    def __call__(self, read: Callable[[Sequence[T], int], list[R]], items: Sequence[T]) -> list[R]:
        while True:
            try:
                return read(items, self.batch_size)
            except torch.OutOfMemoryError:
                if self.batch_size == 1:
                    raise UserError(
                        f"{self.device} runs out of memory reading one image at a time"
                    ) from None
                if self.device.type == "cuda":
                    torch.cuda.empty_cache()  # the failed batch's blocks, for the smaller one
                self.batch_size //= 2
                print(
                    f"out of memory on {self.device}: reading {self.batch_size} images at once",
                    file=sys.stderr,
                )
