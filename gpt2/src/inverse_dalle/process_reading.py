"""Reading image files on several CPU cores: one process per core, each on one thread.

A line is too small for intra-op threads to keep two cores busy (the VQVAE's convolutions and
the reader's matrices are a few hundred rows), and decoding files holds the GIL. Processes share
nothing but the file list: each takes the next `batch_size` files, tokenises and reads them, and
hands back (text, confidence, ended), so readings are the single process's, in order.
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import torch

from ocr_common.cores import available_cores
from ocr_common.errors import UserError

if TYPE_CHECKING:
    from inverse_dalle.line_reader import ImageInput, LineReader

Result = tuple[str, float, bool] | None  # None: the image could not be read

_reader: LineReader | None = None  # the forked workers' copy of the parent's reader
_batch_size = 64


def _start_worker() -> None:
    torch.set_num_threads(1)  # one core per process: threads would compete with the siblings


def _read_files(images: Sequence[ImageInput]) -> list[Result]:
    assert _reader is not None, "set by read_in_processes before the workers fork"
    return _reader.read_images(images, _batch_size)


def default_workers(device: torch.device, images: int, batch_size: int) -> int:
    """Processes for reading `images` files where they pay: one per core of a CPU on Linux (fork
    shares the loaded model), no more than there are batches; elsewhere 1."""
    if device.type != "cpu" or sys.platform != "linux":
        return 1
    return max(1, min(available_cores(), images // batch_size))


def read_in_processes(
    reader: LineReader,
    images: Sequence[ImageInput],
    batch_size: int,
    workers: int,
    on_progress: Callable[[int], None] = lambda done: None,
) -> list[Result]:
    """(text, confidence, ended) of each image, None where it cannot be read, read by `workers`
    forked processes (CPU only); `on_progress(n)` after every n images."""
    if workers < 1:
        raise UserError(f"workers must be at least 1, not {workers}")
    if reader.device.type != "cpu":
        raise UserError("reading in several processes is for CPU; on a GPU use one (--workers 1)")
    global _reader, _batch_size
    _reader, _batch_size = reader, batch_size
    chunks = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
    results: list[Result] = []
    # fork: the workers inherit the loaded model (no pickling, no re-import); torch resets its
    # thread pools in a forked child.
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers, initializer=_start_worker) as pool:
            for chunk_results in pool.imap(_read_files, chunks):
                results.extend(chunk_results)
                on_progress(len(chunk_results))
    finally:
        _reader = None
    return results
