"""Seeded, rank-sharded, resumable batching shared by the VQVAE and the GPT-2 trainings.

Every rank draws the same seeded order and takes its share of each global batch, so N processes
train on exactly the batches one process with an N× batch would; the loader's position within
an epoch is saved in every checkpoint, so a resumed run continues with the next unseen batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler


class SeededShuffleSampler(Sampler[int]):
    """A permutation of range(size) drawn from `seed + epoch`: the same on every rank and again
    when a run resumes, unlike RandomSampler's draw from the global RNG."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:  # Lightning calls this at every epoch start
        self.epoch = epoch

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())

    def __len__(self) -> int:
        return self.size


class ShardedBatchSampler(BatchSampler):
    """Batches of the indices of `sampler`, optionally one group each; one rank's share of them.

    `groups` gives each index a key (the VQVAE's image template): a batch then holds one key only.
    Batches are formed from the whole index order, identically on every rank, then shared out,
    so every rank gets the same number of batches (a rank with one batch fewer would hang DDP):
    - `split_batches` (training, validation): a global batch of batch_size × num_replicas items
      is split across the ranks, so a step sees exactly the items a single-process step with that
      global batch would; a final batch with fewer items than ranks reuses some of them so that
      no rank is left empty.
    - otherwise (prediction, which has no collective per step): whole batches of batch_size are
      dealt round-robin, so each item is processed in the same batch as in a single-process run.
    `skip` drops the first batches of the next iteration only: ResumableDataLoader sets it to
    continue an epoch where a checkpoint left it.
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        groups: Sequence[Hashable] = (),
        *,
        num_replicas: int = 1,
        rank: int = 0,
        split_batches: bool = True,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.groups = groups
        self.num_replicas = num_replicas
        self.rank = rank
        self.split_batches = split_batches
        self.skip = 0

    def _global_batches(self) -> list[list[int]]:
        size = self.batch_size * (self.num_replicas if self.split_batches else 1)
        batches: list[list[int]] = []
        buckets: dict[Hashable, list[int]] = defaultdict(list)
        for index in self.sampler:
            bucket = buckets[self.groups[index] if self.groups else None]
            bucket.append(index)
            if len(bucket) == size:
                batches.append(bucket.copy())
                bucket.clear()
        if not self.drop_last:
            batches.extend(bucket for bucket in buckets.values() if bucket)
        return batches

    def _rank_batches(self) -> list[list[int]]:
        batches = self._global_batches()
        if not self.split_batches:
            return batches[self.rank :: self.num_replicas]
        replicas = self.num_replicas
        return [
            (batch * replicas)[: max(len(batch), replicas)][self.rank :: replicas]
            for batch in batches
        ]

    def __iter__(self) -> Iterator[list[int]]:
        skip, self.skip = self.skip, 0
        return iter(self._rank_batches()[skip:])

    def __len__(self) -> int:
        return len(self._rank_batches())


class ResumableDataLoader(DataLoader):
    """A DataLoader whose position in the epoch survives a checkpoint.

    Lightning stores `state_dict()` with the fit loop in every checkpoint and, on resume, calls
    `load_state_dict()` before iterating; the batch sampler then skips the batches already trained
    on (index lists only, no item is loaded for them). Iteration starts lazily, at the first
    batch, so the sampler's epoch set by Lightning after `iter()` is the one used.
    """

    batch_sampler: ShardedBatchSampler
    # Class-level defaults rather than an __init__: Lightning re-creates DataLoaders from the
    # arguments of DataLoader.__init__ (to inject samplers), which an override would hide.
    _served = 0  # batches handed out in the current epoch, counting skipped ones
    _resume: dict[str, int] | None = None

    def _epoch(self) -> int:
        return getattr(self.batch_sampler.sampler, "epoch", 0)

    def __iter__(self) -> Iterator[Any]:
        self._served = 0
        if self._resume is not None and self._resume["epoch"] == self._epoch():
            self._served = self.batch_sampler.skip = self._resume["batches"]
        self._resume = None
        for batch in super().__iter__():
            self._served += 1
            yield batch

    def state_dict(self) -> dict[str, int]:
        if self._served >= len(self):  # epoch done: resume at the start of the next one
            return {"epoch": self._epoch() + 1, "batches": 0}
        return {"epoch": self._epoch(), "batches": self._served}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self._resume = dict(state)
