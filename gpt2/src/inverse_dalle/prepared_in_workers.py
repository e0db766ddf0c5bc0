"""Preparing image files for the VQVAE encoder in forked worker processes, for a GPU that one CPU
core would keep waiting: decoding and resizing a line cost ~1.8 ms there, ~550 lines/s, where the
H200 reads ~3 000 lines/s from token grids. Workers prepare chunks of files and send numpy arrays:
a torch tensor sent per line cost the receiving process ~0.65 ms (a shared-memory handle each), a
chunk of arrays ~0.14 ms a line (measured on CPU; threads do not help, the work is GIL-bound)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch
from torch.utils.data import DataLoader, Dataset

CHUNK = 32  # files per task: fewer messages, and still every worker busy on a batch of 256

Item = TypeVar("Item")
Views = list[torch.Tensor] | None  # the encoder inputs of one file's views; None: unreadable


def as_is(item: Any) -> Any:
    return item


class PreparedChunks(Dataset):
    """Item i: `prepare` of each file in chunk i, as numpy arrays (None where unreadable)."""

    def __init__(self, prepare: Callable[[Item], Views], items: Sequence[Item]) -> None:
        self.prepare, self.items = prepare, items

    def __len__(self) -> int:
        return -(-len(self.items) // CHUNK)

    def __getitem__(self, index: int) -> list[list[Any] | None]:
        chunk = self.items[index * CHUNK : (index + 1) * CHUNK]
        return [
            None if views is None else [view.numpy() for view in views]
            for views in map(self.prepare, chunk)
        ]


def prepare_in_workers(
    prepare: Callable[[Item], Views], items: Sequence[Item], workers: int
) -> list[Views]:
    """`prepare(item)` for every item, in order, computed by `workers` forked processes (Linux;
    `prepare` and the items reach them by the fork, not by pickling)."""
    loader = DataLoader(
        PreparedChunks(prepare, items),
        batch_size=None,
        num_workers=workers,
        collate_fn=as_is,
        multiprocessing_context="fork",
    )
    return [
        None if views is None else [torch.from_numpy(view) for view in views]
        for chunk in loader
        for views in chunk
    ]
