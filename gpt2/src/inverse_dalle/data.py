"""Token tables → training sequences, refusing a table made for another model.

Tables are memory-mapped (open_arrow_table converts a CSV or Parquet table once to an Arrow file
beside it): a million rows open in milliseconds, every rank and DataLoader worker shares the
pages, and a row is read when its item is.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import lightning as L
import pyarrow as pa
import torch
from torch.utils.data import Dataset, Sampler, SequentialSampler

from inverse_dalle.config import DataConfig, InverseDalleConfig, derived_n_positions
from inverse_dalle.exported import ExportedModel
from inverse_dalle.token_format import TokenLayout, ocr_example
from inverse_dalle.vocabulary import UNK_ID, Vocabulary
from ocr_common.config import ConfigError
from ocr_common.errors import UserError
from ocr_common.sampling import ResumableDataLoader, SeededShuffleSampler, ShardedBatchSampler
from ocr_common.tables import open_arrow_table
from vqvae.token_table import (
    TokenTableMeta,
    check_codebook,
    grid_shape,
    read_meta,
    string_to_grid,
)

COLUMNS = ("img_path", "text", "visual_tokens")


class StringColumn:
    """One string column of a table, read a row at a time: no Python list of a million rows."""

    def __init__(self, column: pa.ChunkedArray) -> None:
        self.column = column

    def __len__(self) -> int:
        return len(self.column)

    def __getitem__(self, index: int) -> str:
        return self.column[index].as_py()

    def __iter__(self) -> Iterator[str]:
        for chunk in self.column.chunks:  # a chunk (64k rows) in Python at a time
            yield from chunk.to_pylist()


class TokenTable:
    """A token table memory-mapped by open_arrow_table: opening it parses nothing, every rank and
    DataLoader worker shares its pages, and `grids[i]` / `texts[i]` read one row when asked."""

    def __init__(self, arrow: pa.Table, path: Path | None = None) -> None:
        self.arrow, self.path = arrow, path
        self.grids = StringColumn(arrow["visual_tokens"])  # grid strings, parsed per item
        self.texts = StringColumn(arrow["text"])

    @classmethod
    def open(cls, path: str | os.PathLike) -> TokenTable:
        return cls(open_arrow_table(path, COLUMNS), Path(path))

    def __len__(self) -> int:
        return len(self.arrow)

    def __reduce__(self) -> tuple:
        # Pickled (spawned DataLoader workers, ddp_spawn) as its path: the receiver maps the
        # same file rather than receiving a copy of every row.
        if self.path is None:
            return (TokenTable, (self.arrow,))
        return (TokenTable.open, (self.path,))


def check_table_fits(path: str | os.PathLike, meta: TokenTableMeta, config: DataConfig) -> None:
    """The table's codebook must be data.num_visual_tokens and its budget at most
    data.max_visual_length (an unset value checks nothing)."""
    if config.num_visual_tokens is not None:
        check_codebook(
            f"{path}: token table (.meta.json)",
            meta.num_codes,
            "config data.num_visual_tokens is",
            config.num_visual_tokens,
        )
    if config.max_visual_length is not None and meta.max_visual_length > config.max_visual_length:
        raise UserError(
            f"{path}: token table max_length {meta.max_visual_length} (.meta.json) exceeds config "
            f"data.max_visual_length {config.max_visual_length}"
        )


def load_token_table(path: str | os.PathLike, config: DataConfig) -> TokenTable:
    """Open a token table after checking its .meta.json against the config."""
    check_table_fits(path, read_meta(path), config)
    return TokenTable.open(path)


def resolve_layout(
    config: InverseDalleConfig, source: ExportedModel | None = None
) -> InverseDalleConfig:
    """`config` with the sizes it leaves unset filled in, the one place they are: from the
    training table's .meta.json, data.num_visual_tokens (its num_embeddings) and
    data.max_visual_length (its max_length), and model.n_positions derived from the layout
    (config.derived_n_positions). Starting from an export (`source`, model.init_from), its own
    values, but the table's budget when larger (the source grows into it, layout_growth.py), and
    then n_positions derived again. A declared value is kept; one the table contradicts is a
    UserError naming both."""
    path = config.data.train_dataset
    meta = read_meta(path)
    if source is None:
        num_codes, max_visual_length = meta.num_codes, meta.max_visual_length
    else:
        num_codes = source.layout.num_codes
        max_visual_length = max(source.layout.max_visual_length, meta.max_visual_length)
    data = config.data
    data = replace(
        data,
        num_visual_tokens=_declared_or(data.num_visual_tokens, num_codes),
        max_visual_length=_declared_or(data.max_visual_length, max_visual_length),
    )
    if source is None or data.max_visual_length != source.layout.max_visual_length:
        n_positions = derived_n_positions(data.max_visual_length, data.max_text_length)
    else:
        n_positions = source.model.config.n_positions
    model = replace(config.model, n_positions=_declared_or(config.model.n_positions, n_positions))
    resolved = replace(config, data=data, model=model)
    check_table_fits(path, meta, resolved.data)  # declared values are kept, so checked here too
    try:
        resolved.validate()
    except ValueError as error:
        raise ConfigError(f"config with the layout of {path}: {error}") from None
    return resolved


def _declared_or(declared: int | None, default: int) -> int:
    return default if declared is None else declared


class OCRDataset(Dataset):
    """Rows of a token table as training sequences: image first (text first: TextFirstDataset)."""

    sequence = staticmethod(ocr_example)

    def __init__(self, table: TokenTable, layout: TokenLayout, vocabulary: Vocabulary) -> None:
        self.table, self.layout, self.vocabulary = table, layout, vocabulary
        self.num_truncated = self.num_unknown = 0
        for text in table.texts:  # one pass over the text column, a chunk at a time
            ids = vocabulary.encode(text)
            self.num_truncated += len(ids) > layout.max_text_length
            self.num_unknown += ids.count(UNK_ID)

    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        grid = string_to_grid(self.table.grids[index])
        text_ids = self.vocabulary.encode(self.table.texts[index])[: self.layout.max_text_length]
        example = self.sequence(self.layout, grid, text_ids)
        return {**vars(example), "index": torch.tensor(index)}


def count_fed_by_columns(table: TokenTable, layout: TokenLayout) -> int:
    """How many of the table's grids `layout` feeds column by column (TokenLayout.by_columns),
    from each grid string's shape alone."""
    return sum(layout.by_columns(*grid_shape(grid)) for grid in table.grids)


class OCRDataModule(L.LightningDataModule):
    """Seeded, rank-sharded, resumable batches (ocr_common.sampling) as for the VQVAE: N ranks
    train on the global batches one process would, and a resumed run on the next unseen one."""

    def __init__(
        self,
        train: OCRDataset,
        val: OCRDataset | None,
        batch_size: int,
        num_workers: int,
        seed: int,
    ) -> None:
        super().__init__()
        self.train, self.val = train, val
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed

    def _loader(
        self, dataset: OCRDataset, sampler: Sampler[int], drop_last: bool
    ) -> ResumableDataLoader:
        # Our batch sampler shards by rank itself (build_trainer turns Lightning's sampler off).
        batches = ShardedBatchSampler(
            sampler,
            self.batch_size,
            drop_last,
            num_replicas=self.trainer.world_size if self.trainer else 1,
            rank=self.trainer.global_rank if self.trainer else 0,
        )
        return ResumableDataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> ResumableDataLoader:
        return self._loader(self.train, SeededShuffleSampler(len(self.train), self.seed), True)

    def val_dataloader(self) -> ResumableDataLoader | list:
        if self.val is None:
            return []
        return self._loader(self.val, SequentialSampler(self.val), False)
