"""Token tables → training sequences, refusing a table made for another model."""

from __future__ import annotations

import os
from dataclasses import dataclass

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from inverse_dalle.config import DataConfig
from inverse_dalle.token_format import TokenLayout, ocr_example
from inverse_dalle.vocabulary import UNK_ID, Vocabulary
from ocr_common.errors import UserError
from ocr_common.tables import read_table
from vqvae.token_table import read_meta, string_to_grid


@dataclass
class TokenTable:
    grids: list[str]  # kept as strings: parsed per item, so a big table costs little memory
    texts: list[str]
    img_paths: list[str]


def load_token_table(path: str | os.PathLike, config: DataConfig) -> TokenTable:
    """Read a token table after checking its .meta.json against the config."""
    meta = read_meta(path)
    if meta.num_embeddings != config.num_visual_tokens:
        raise UserError(
            f"{path}: token table has {meta.num_embeddings} codes (.meta.json), config "
            f"data.num_visual_tokens is {config.num_visual_tokens}"
        )
    if meta.max_length > config.max_visual_length:
        raise UserError(
            f"{path}: token table max_length {meta.max_length} (.meta.json) exceeds config "
            f"data.max_visual_length {config.max_visual_length}"
        )
    table = read_table(path, required=("img_path", "text", "visual_tokens"))
    return TokenTable(
        list(table["visual_tokens"]), list(table["text"]), list(table["img_path"].astype(str))
    )


class OCRDataset(Dataset):
    def __init__(self, table: TokenTable, layout: TokenLayout, vocabulary: Vocabulary) -> None:
        self.table, self.layout, self.vocabulary = table, layout, vocabulary
        lengths = [len(vocabulary.encode(text)) for text in table.texts]
        self.num_truncated = sum(n > layout.max_text_length for n in lengths)
        self.num_unknown = sum(vocabulary.encode(t).count(UNK_ID) for t in table.texts)

    def __len__(self) -> int:
        return len(self.table.texts)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        grid = string_to_grid(self.table.grids[index])
        text_ids = self.vocabulary.encode(self.table.texts[index])[: self.layout.max_text_length]
        example = ocr_example(self.layout, grid, text_ids)
        return {
            "input_ids": example.input_ids,
            "attention_mask": example.attention_mask,
            "image_targets": example.image_targets,
            "text_targets": example.text_targets,
            "index": torch.tensor(index),
        }


class OCRDataModule(L.LightningDataModule):
    def __init__(
        self,
        train: OCRDataset,
        val: OCRDataset | None,
        batch_size: int,
        num_workers: int,
    ) -> None:
        super().__init__()
        self.train, self.val = train, val
        self.batch_size, self.num_workers = batch_size, num_workers

    def _loader(self, dataset: OCRDataset, shuffle: bool) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=shuffle,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            drop_last=shuffle,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train, shuffle=True)

    def val_dataloader(self) -> DataLoader | list:
        return self._loader(self.val, shuffle=False) if self.val is not None else []
