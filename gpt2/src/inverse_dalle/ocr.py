"""InverseDalleOCR: an exported directory → text from images (or from token grids)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from PIL import Image
from transformers import GPT2LMHeadModel

from inverse_dalle.exported import load_export
from inverse_dalle.line_reader import ImageInput, LineReader
from inverse_dalle.reading import (
    Reading,
    candidate_log_likelihoods,
    read_grids,
    text_log_likelihoods,
)
from inverse_dalle.tiling import revise_by_tiles
from inverse_dalle.token_format import IMAGE_TO_TEXT, TokenLayout
from inverse_dalle.vocabulary import Vocabulary
from inverse_dalle.voting import support
from ocr_common.devices import resolve_device
from ocr_common.errors import UserError
from ocr_common.images import load_image
from vqvae.token_table import check_codes
from vqvae.tokenizer import ImageTokenizer


class InverseDalleOCR(LineReader):
    def __init__(
        self,
        model: GPT2LMHeadModel,
        layout: TokenLayout,
        vocabulary: Vocabulary,
        tokenizer: ImageTokenizer | None,
        beams: int = 1,
        tta: int = 1,
        rescore: bool = False,
        tta_threshold: float | None = None,
        tiles: bool = False,
    ) -> None:
        if beams < 1:
            raise UserError(f"beams must be at least 1, not {beams}")
        if rescore and tta < 2:
            raise UserError("rescoring chooses among the readings of several views: set tta > 1")
        self.model = model.eval()
        self.layout, self.vocabulary, self.tokenizer = layout, vocabulary, tokenizer
        self.beams = beams  # 1: greedy reading; more: beam search (beam_reading.py)
        self.set_tta(tta, tta_threshold)  # views per image, voted on (line_reader.py)
        self.rescore = rescore  # every view scores every view's reading (voting.py)
        self.tiles = tiles  # long lines' readings checked tile by tile (tiling.py)

    @classmethod
    def from_pretrained(
        cls,
        directory: str | os.PathLike,
        device: str | torch.device | None = None,
        beams: int = 1,
        tta: int = 1,
        rescore: bool = False,
        tta_threshold: float | None = None,
        tiles: bool = False,
    ) -> InverseDalleOCR:
        """The reader in `directory` on `device` (None: cuda when available, else cpu), reading
        greedily or, with `beams` > 1, by beam search; with `tta` > 1 it reads that many views of
        each image and votes (both cost about as many times the reading time), or with `rescore`
        keeps the reading all views find most likely (about 1.3× more again); `tta_threshold`
        reads the other views only of images whose first reading is less sure than that; `tiles`
        checks the readings of long lines against tiles of them (tiling.py)."""
        exported = load_export(directory, resolve_device(device))
        if exported.order != IMAGE_TO_TEXT:
            raise UserError(
                f"{directory}: a {exported.order} model draws images (src/generate.py); reading "
                f"needs an {IMAGE_TO_TEXT} export"
            )
        return cls(
            exported.model,
            exported.layout,
            exported.vocabulary,
            exported.tokenizer,
            beams,
            tta,
            rescore,
            tta_threshold,
            tiles,
        )

    @property
    def device(self) -> torch.device:
        return self.model.device

    def read_grids(self, grids: Sequence[list[list[int]]], batch_size: int = 64) -> list[Reading]:
        """Readings of token grids (as in a token table), in order."""
        for number, grid in enumerate(grids):
            try:
                self.check_grid(grid)
            except ValueError as error:
                raise UserError(f"token grid {number}: {error}") from None
        return read_grids(self.model, self.layout, grids, batch_size, self.beams)

    def check_grid(self, grid: list[list[int]]) -> None:
        """ValueError unless this reader can read `grid`: codes of its codebook, in its budget."""
        check_codes(grid, self.layout.num_codes)
        self.layout.visual_ids(grid)  # raises when over max_visual_length

    def log_likelihoods(
        self, grids: Sequence[list[list[int]]], text: str, batch_size: int = 64
    ) -> list[float]:
        """log P(text | grid) for each token grid: how strongly each reads as `text`."""
        ids = self.vocabulary.encode(text)
        return text_log_likelihoods(self.model, self.layout, grids, ids, batch_size)

    def choose_each(
        self,
        readings: list[list[tuple[str, float]]],
        grids: list[list[list[list[int]]]],
        batch_size: int = 64,
    ) -> list[tuple[str, float]]:
        """The vote, or with `rescore` each image's reading with the largest log-likelihood summed
        over all its views (voting.py), with the vote's confidence for it. The views of every
        image whose views disagree are scored together, in batches as large as reading's."""
        if not self.rescore:
            return super().choose_each(readings, grids, batch_size)
        supports = [support(mine) for mine in readings]
        contested = [i for i, (totals, _) in enumerate(supports) if len(totals) > 1]
        candidates = {i: [self.vocabulary.encode(t) for t in supports[i][0]] for i in contested}
        scores = iter(
            candidate_log_likelihoods(
                self.model,
                self.layout,
                [grid for i in contested for grid in grids[i]],
                [candidates[i] for i in contested for _ in grids[i]],
                batch_size,
            )
        )
        chosen = []
        for index, (totals, count) in enumerate(supports):
            text = next(iter(totals))  # what every view read, unless contested
            if index in candidates:  # the summed log-likelihood of each text over the views
                summed = [sum(c) for c in zip(*(next(scores) for _ in grids[index]), strict=True)]
                text = list(totals)[summed.index(max(summed))]  # ties: the first seen
            chosen.append((text, totals[text] / count))
        return chosen

    def refine(
        self,
        images: Sequence[ImageInput],
        results: list[tuple[str, float, bool] | None],
        views: Sequence[list[list[list[int]]] | None],
        batch_size: int = 64,
    ) -> list[tuple[str, float, bool] | None]:
        """With `tiles`, each long line's reading checked against its tiles' (tiling.py)."""
        if not self.tiles:
            return results
        return revise_by_tiles(self, images, results, views, batch_size)

    def prepare(self, image: Image.Image, view: int = 0) -> torch.Tensor:
        return self._bundled_tokenizer().prepare(image, view)

    def encode(self, inputs: Sequence[torch.Tensor], batch_size: int = 64) -> list[list[list[int]]]:
        return self._bundled_tokenizer().encode(inputs, batch_size)

    def _bundled_tokenizer(self) -> ImageTokenizer:
        if self.tokenizer is None:
            raise UserError("this export has no bundled vqvae/: it reads token tables only")
        return self.tokenizer

    def tokenize(self, images: Sequence[ImageInput], batch_size: int = 64) -> list[list[list[int]]]:
        """A grid per image; an image that cannot be read is a UserError naming it."""
        return self.tokenize_each([load_image(image) for image in images], batch_size)
