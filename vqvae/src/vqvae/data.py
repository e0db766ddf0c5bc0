"""Training data: images from a dataset table or a glob, drawn into their templates, batched so
every batch holds one template (no padding between images of different shapes)."""

from __future__ import annotations

import glob
import os
import random
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    Sampler,
    SequentialSampler,
)

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths
from vqvae.config import DataConfig
from vqvae.images import jitter, load_rgb, read_size, to_template_tensor
from vqvae.shapes import choose_template


class TemplateDataset(Dataset):
    """Images with their templates; unreadable files are dropped at construction and counted.

    With `repeats` > 1 (test-time augmentation) item i is repeat i % repeats of image
    i // repeats; repeat 0 is the plain image, the others a seeded random jitter.
    """

    def __init__(
        self, paths: Sequence[Path], max_length: int, downsample: int, repeats: int = 1
    ) -> None:
        self.paths: list[Path] = []
        self.sizes: list[tuple[int, int]] = []
        self.rows: list[int] = []  # index into the caller's list, to carry table columns along
        self.num_skipped = 0
        self.downsample = downsample
        self.repeats = repeats
        image_templates = []
        for row, path in enumerate(paths):
            try:
                size = read_size(path)
            except (OSError, ValueError):
                self.num_skipped += 1
                continue
            self.paths.append(Path(path))
            self.sizes.append(size)
            image_templates.append(choose_template(*size, max_length))
            self.rows.append(row)
        self.templates = [t for t in image_templates for _ in range(repeats)]

    def __len__(self) -> int:
        return len(self.templates)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        image_index, repeat = divmod(index, self.repeats)
        try:
            image = load_rgb(self.paths[image_index])
        except (OSError, ValueError):  # header fine, pixels truncated: skipped by the collate
            return None
        if repeat:
            image = jitter(image, random.Random(index))
        tensor, _ = to_template_tensor(image, self.templates[index], self.downsample)
        return tensor, index


def collate_same_template(items: list[tuple[torch.Tensor, int] | None]) -> dict[str, torch.Tensor]:
    """Stack one template's images; `skipped` counts items that failed to decode."""
    good = [item for item in items if item is not None]
    if not good:
        return {
            "images": torch.zeros(0),
            "indices": torch.zeros(0, dtype=torch.long),
            "skipped": torch.tensor(len(items)),
        }
    return {
        "images": torch.stack([tensor for tensor, _ in good]),
        "indices": torch.tensor([index for _, index in good]),
        "skipped": torch.tensor(len(items) - len(good)),
    }


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


class TemplateBatchSampler(BatchSampler):
    """Group the indices of `sampler` by template into batches; one rank's share of them.

    Batches are formed from the whole index order, identically on every rank, then shared out,
    so every rank gets the same number of batches (a rank with one batch fewer would hang DDP):
    - `split_batches` (training, validation): a global batch of batch_size × num_replicas images
      of one template is split across the ranks, so a step sees exactly the images a
      single-process step with that global batch would; a final batch with fewer images than ranks
      reuses some of them so that no rank is left empty.
    - otherwise (prediction, which has no collective per step): whole batches of batch_size are
      dealt round-robin, so each image is encoded in the same batch as in a single-process run.
    `skip` drops the first batches of the next iteration only: ResumableDataLoader sets it to
    continue an epoch where a checkpoint left it.
    """

    def __init__(
        self,
        sampler: Sampler[int],
        batch_size: int,
        drop_last: bool,
        templates: Sequence[tuple[int, int]] = (),
        *,
        num_replicas: int = 1,
        rank: int = 0,
        split_batches: bool = True,
    ) -> None:
        super().__init__(sampler, batch_size, drop_last)
        if not 0 <= rank < num_replicas:
            raise ValueError(f"rank {rank} is not in [0, {num_replicas})")
        self.templates = list(templates)
        self.num_replicas = num_replicas
        self.rank = rank
        self.split_batches = split_batches
        self.skip = 0

    def _global_batches(self) -> list[list[int]]:
        size = self.batch_size * (self.num_replicas if self.split_batches else 1)
        batches: list[list[int]] = []
        buckets: dict[tuple[int, int], list[int]] = defaultdict(list)
        for index in self.sampler:
            bucket = buckets[self.templates[index]]
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
    on (index lists only, no image is loaded for them). Iteration starts lazily, at the first
    batch, so the sampler's epoch set by Lightning after `iter()` is the one used.
    """

    batch_sampler: TemplateBatchSampler
    # Class-level defaults rather than an __init__: Lightning re-creates DataLoaders from the
    # arguments of DataLoader.__init__ (to inject samplers), which an override would hide.
    _served = 0  # batches handed out in the current epoch, counting skipped ones
    _resume: dict[str, int] | None = None

    def _epoch(self) -> int:
        return getattr(self.batch_sampler.sampler, "epoch", 0)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
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


def template_loader(
    dataset: TemplateDataset,
    batch_size: int,
    num_workers: int,
    *,
    shuffle_seed: int | None = None,
    num_replicas: int = 1,
    rank: int = 0,
    split_batches: bool = True,
) -> ResumableDataLoader:
    """Batches of one template each; shuffled per epoch from `shuffle_seed` unless it is None."""
    sampler = (
        SequentialSampler(dataset)
        if shuffle_seed is None
        else SeededShuffleSampler(len(dataset), shuffle_seed)
    )
    batch_sampler = TemplateBatchSampler(
        sampler,
        batch_size,
        False,
        dataset.templates,
        num_replicas=num_replicas,
        rank=rank,
        split_batches=split_batches,
    )
    return ResumableDataLoader(
        dataset,
        batch_sampler=batch_sampler,
        collate_fn=collate_same_template,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
    )


def _table_paths(path: str) -> list[Path]:
    table = read_table(path, required=("img_path",))
    return resolve_image_paths(table, path)


def split_sources(config: DataConfig, seed: int) -> tuple[list[Path], list[Path]]:
    """(train, validation) image paths from the tables or the glob named in the config."""
    if config.train_dataset:
        train = _table_paths(config.train_dataset)
        if config.val_dataset:
            return train, _table_paths(config.val_dataset)
    elif config.image_files:
        train = sorted(
            Path(p) for p in glob.glob(os.path.expanduser(config.image_files), recursive=True)
        )
        if not train:
            raise UserError(f"data.image_files: no files match '{config.image_files}'")
    else:
        raise UserError("config: set data.train_dataset (a table) or data.image_files (a glob)")
    random.Random(seed).shuffle(train)
    num_val = max(1, round(len(train) * config.validation_ratio)) if config.validation_ratio else 0
    return train[num_val:], train[:num_val]


class VQVAEDataModule(L.LightningDataModule):
    def __init__(
        self, config: DataConfig, downsample: int, batch_size: int, num_workers: int, seed: int
    ) -> None:
        super().__init__()
        self.config = config
        self.downsample = downsample
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_set"):  # already set up (train() reports its statistics first)
            return
        train, val = split_sources(self.config, self.seed)
        val = val[: self.config.max_val_images]
        self.train_set = TemplateDataset(train, self.config.max_length, self.downsample)
        self.val_set = TemplateDataset(val, self.config.max_length, self.downsample)
        if not len(self.train_set):
            raise UserError("no readable training images")
        skipped = self.train_set.num_skipped + self.val_set.num_skipped
        if skipped:
            print(f"skipped {skipped} unreadable image(s)")

    def _loader(self, data: TemplateDataset, shuffle_seed: int | None) -> ResumableDataLoader:
        # Our batch sampler shards by rank itself (build_trainer(use_distributed_sampler=False)).
        return template_loader(
            data,
            self.batch_size,
            self.num_workers,
            shuffle_seed=shuffle_seed,
            num_replicas=self.trainer.world_size if self.trainer else 1,
            rank=self.trainer.global_rank if self.trainer else 0,
        )

    def train_dataloader(self) -> ResumableDataLoader:
        return self._loader(self.train_set, self.seed)

    def val_dataloader(self) -> ResumableDataLoader:
        return self._loader(self.val_set, None)
