"""InverseDalleOCR: an exported directory → text from images (or from token grids)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from PIL import Image
from transformers import GPT2LMHeadModel

from inverse_dalle.exported import load_export
from inverse_dalle.reading import Reading, read_grids, text_log_likelihoods
from inverse_dalle.token_format import IMAGE_TO_TEXT, TokenLayout
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.errors import UserError
from ocr_common.images import load_image
from vqvae.tokenizer import ImageTokenizer

ImageInput = Image.Image | str | os.PathLike


class InverseDalleOCR:
    def __init__(
        self,
        model: GPT2LMHeadModel,
        layout: TokenLayout,
        vocabulary: Vocabulary,
        tokenizer: ImageTokenizer | None,
    ) -> None:
        self.model = model.eval()
        self.layout, self.vocabulary, self.tokenizer = layout, vocabulary, tokenizer

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, device: str | torch.device = "cpu"
    ) -> InverseDalleOCR:
        exported = load_export(directory, device)
        if exported.order != IMAGE_TO_TEXT:
            raise UserError(
                f"{directory}: a {exported.order} model draws images (src/generate.py); reading "
                f"needs an {IMAGE_TO_TEXT} export"
            )
        return cls(exported.model, exported.layout, exported.vocabulary, exported.tokenizer)

    def read_grids(self, grids: Sequence[list[list[int]]], batch_size: int = 64) -> list[Reading]:
        """Readings of token grids (as in a token table), in order."""
        for grid in grids:
            if any(code < 0 or code >= self.layout.num_codes for row in grid for code in row):
                raise UserError(f"token grid has code ids outside [0, {self.layout.num_codes})")
        return read_grids(self.model, self.layout, grids, batch_size)

    def log_likelihoods(
        self, grids: Sequence[list[list[int]]], text: str, batch_size: int = 64
    ) -> list[float]:
        """log P(text | grid) for each token grid: how strongly each reads as `text`."""
        ids = self.vocabulary.encode(text)
        return text_log_likelihoods(self.model, self.layout, grids, ids, batch_size)

    def text(self, reading: Reading) -> str:
        return self.vocabulary.decode(reading.ids)

    def tokenize(self, images: Sequence[ImageInput], batch_size: int = 64) -> list[list[list[int]]]:
        if self.tokenizer is None:
            raise UserError("this export has no bundled vqvae/: it reads token tables only")
        return self.tokenizer.tokenize([load_image(image) for image in images], batch_size)

    def read_batch(
        self, images: Sequence[ImageInput], batch_size: int = 64
    ) -> list[tuple[str, float]]:
        """(text, confidence) for each image or image path; confidence = P(chosen tokens)."""
        readings = self.read_grids(self.tokenize(images, batch_size), batch_size)
        return [(self.text(reading), reading.confidence) for reading in readings]

    def read(self, image: ImageInput) -> tuple[str, float]:
        return self.read_batch([image])[0]
