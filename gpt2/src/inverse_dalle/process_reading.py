"""Work on several CPU cores in forked processes, each on one thread: reading image files on a
CPU, and on a GPU preparing them for the encoder.

A line is too small for intra-op threads to keep two cores busy (the VQVAE's convolutions and
the reader's matrices are a few hundred rows), and decoding files holds the GIL. Processes share
nothing but the file list: each takes the next `batch_size` files, tokenises and reads them, and
hands back (text, confidence, ended), so readings are the single process's, in order.

On a GPU one core preparing files (decoding and resizing a line: ~1.8 ms) keeps it waiting:
`prepare_in_processes` does that part in workers, which send numpy arrays back. A torch tensor
sent per line cost the receiving process ~0.65 ms (a shared-memory handle each); arrays in chunks
of PREPARE_CHUNK files cost it far less (docs/gpu.md).
"""

from __future__ import annotations

import multiprocessing
import sys
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

import torch

from ocr_common.cores import available_cores
from ocr_common.errors import UserError

if TYPE_CHECKING:
    from inverse_dalle.line_reader import ImageInput, LineReader

Result = tuple[str, float, bool] | None  # None: the image could not be read
Views = list[torch.Tensor] | None  # the encoder inputs of one file's views; None: unreadable
T = TypeVar("T")

FORKS = sys.platform == "linux"  # fork shares the loaded model: no pickling, no re-import
PREPARE_CHUNK = 32  # files per task: fewer messages, still every worker busy on a batch of 256

_work: Callable[[Any], Any] | None = None  # the forked workers' copy of the parent's work


def _start_worker() -> None:
    torch.set_num_threads(1)  # one core per process: threads would compete with the siblings


def _run(chunk: Any) -> Any:
    assert _work is not None, "set by map_in_forked_processes before the workers fork"
    return _work(chunk)


def map_in_forked_processes(
    work: Callable[[T], Any], chunks: Sequence[T], workers: int
) -> Iterator[Any]:
    """`work(chunk)` of each chunk, in order, from `workers` forked processes, one thread each;
    `work` reaches them by the fork (a closure will do), its results by pickling."""
    global _work
    _work = work
    # torch resets its thread pools in a forked child
    context = multiprocessing.get_context("fork")
    try:
        with context.Pool(workers, initializer=_start_worker) as pool:
            yield from pool.imap(_run, chunks)
    finally:
        _work = None


def default_workers(device: torch.device, images: int, batch_size: int) -> int:
    """Processes for reading `images` files where they pay: one per core of a CPU on Linux (fork
    shares the loaded model), no more than there are batches; elsewhere 1."""
    if device.type != "cpu" or not FORKS:
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
    chunks = [images[start : start + batch_size] for start in range(0, len(images), batch_size)]
    results: list[Result] = []
    read = partial(reader.read_images, batch_size=batch_size)
    for chunk_results in map_in_forked_processes(read, chunks, workers):
        results.extend(chunk_results)
        on_progress(len(chunk_results))
    return results


def prepare_in_processes(
    prepare: Callable[[T], Views], items: Sequence[T], workers: int
) -> list[Views]:
    """`prepare(item)` for every item, in order: by `workers` forked processes, PREPARE_CHUNK
    items a task, where there are more than one chunk's worth; else here."""
    if workers <= 1 or len(items) <= PREPARE_CHUNK:
        return [prepare(item) for item in items]

    def as_arrays(chunk: Sequence[T]) -> list[list[Any] | None]:
        return [None if v is None else [x.numpy() for x in v] for v in map(prepare, chunk)]

    chunks = [items[s : s + PREPARE_CHUNK] for s in range(0, len(items), PREPARE_CHUNK)]
    return [
        None if views is None else [torch.from_numpy(array) for array in views]
        for arrays in map_in_forked_processes(as_arrays, chunks, workers)
        for views in arrays
    ]
