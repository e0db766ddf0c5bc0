"""Training data: images from a dataset table or a glob, drawn into their templates, batched so
every batch holds one template (no padding between images of different shapes)."""

from __future__ import annotations

import glob
import os
import random
from collections.abc import Sequence
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import Dataset, SequentialSampler

from ocr_common.errors import UserError
from ocr_common.images import UnreadableImage, image_size, is_image_file, load_image
from ocr_common.sampling import ResumableDataLoader, SeededShuffleSampler, ShardedBatchSampler
from ocr_common.tables import read_table, resolve_image_paths
from vqvae.config import DataConfig
from vqvae.images import augmented_view, to_template_tensor
from vqvae.shapes import choose_template


class TemplateDataset(Dataset):
    """Images with their templates; unreadable files are dropped at construction and counted.

    With `repeats` > 1 (test-time augmentation) item i is repeat i % repeats of image
    i // repeats: view `repeat` of it (vqvae.images.augmented_view; 0 is the plain image).
    """

    def __init__(
        self,
        paths: Sequence[Path],
        max_visual_length: int,
        downsample: int,
        *,
        channels: int,  # the model's input channels (1: grey ink on paper, 3: RGB)
        repeats: int = 1,
    ) -> None:
        self.paths: list[Path] = []
        self.sizes: list[tuple[int, int]] = []
        self.rows: list[int] = []  # index into the caller's list, to carry table columns along
        self.num_skipped = 0
        self.downsample = downsample
        self.repeats = repeats
        self.channels = channels
        image_templates = []
        for row, path in enumerate(paths):
            try:
                size = image_size(path)
            except UnreadableImage:
                self.num_skipped += 1
                continue
            self.paths.append(Path(path))
            self.sizes.append(size)
            image_templates.append(choose_template(*size, max_visual_length))
            self.rows.append(row)
        self.templates = [t for t in image_templates for _ in range(repeats)]

    def __len__(self) -> int:
        return len(self.templates)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | None:
        image_index, repeat = divmod(index, self.repeats)
        try:
            image = load_image(self.paths[image_index])
        except UnreadableImage:  # header fine, pixels truncated: skipped by the collate
            return None
        tensor, _ = to_template_tensor(
            augmented_view(image, repeat), self.templates[index], self.downsample, self.channels
        )
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
    batch_sampler = ShardedBatchSampler(
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
        matches = glob.glob(os.path.expanduser(config.image_files), recursive=True)
        train = sorted(path for path in map(Path, matches) if is_image_file(path))
        if not train:
            raise UserError(f"data.image_files: no files match '{config.image_files}'")
    else:
        raise UserError("config: set data.train_dataset (a table) or data.image_files (a glob)")
    random.Random(seed).shuffle(train)
    num_val = max(1, round(len(train) * config.validation_ratio)) if config.validation_ratio else 0
    return train[num_val:], train[:num_val]


class VQVAEDataModule(L.LightningDataModule):
    def __init__(
        self,
        config: DataConfig,
        downsample: int,
        batch_size: int,
        num_workers: int,
        seed: int,
        channels: int,
    ) -> None:
        super().__init__()
        self.config = config
        self.downsample = downsample
        self.channels = channels
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed

    def setup(self, stage: str | None = None) -> None:
        if hasattr(self, "train_set"):  # already set up (train() reports its statistics first)
            return
        train, val = split_sources(self.config, self.seed)
        val = val[: self.config.max_val_images]
        length, p, c = self.config.max_length, self.downsample, self.channels
        self.train_set = TemplateDataset(train, length, p, channels=c)
        self.val_set = TemplateDataset(val, length, p, channels=c)
        if not len(self.train_set):
            raise UserError("no readable training images")
        skipped = self.train_set.num_skipped + self.val_set.num_skipped
        if skipped:
            print(f"skipped {skipped} unreadable image(s)")

    def _loader(self, data: TemplateDataset, shuffle_seed: int | None) -> ResumableDataLoader:
        # Our batch sampler shards by rank itself (build_trainer turns Lightning's sampler off).
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
