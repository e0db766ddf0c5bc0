"""Reading images once a reader can tokenise them and read token grids: what the PyTorch reader
(`ocr.InverseDalleOCR`) and the onnxruntime one (`onnx_reading.OnnxOCR`) share."""

from __future__ import annotations

import os
from collections.abc import Sequence

from PIL import Image

from inverse_dalle.reading import Reading
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.images import load_image

ImageInput = str | os.PathLike | Image.Image


class LineReader:
    """Subclasses give `vocabulary`, `tokenize_each` and `read_grids`."""

    vocabulary: Vocabulary

    def tokenize_each(
        self, images: Sequence[ImageInput], batch_size: int = 64
    ) -> list[list[list[int]] | None]:
        raise NotImplementedError

    def read_grids(self, grids: Sequence[list[list[int]]], batch_size: int = 64) -> list[Reading]:
        raise NotImplementedError

    def text(self, reading: Reading) -> str:
        return self.vocabulary.decode(reading.ids)

    def read_batch(
        self, images: Sequence[ImageInput], batch_size: int = 64
    ) -> list[tuple[str, float]]:
        """(text, confidence) for each image or image path; confidence = P(chosen tokens). An
        image that cannot be read gives ("", 0.0), as in predict: the others are still read."""
        grids = self.tokenize_each(images, batch_size)
        readings = iter(self.read_grids([g for g in grids if g is not None], batch_size))
        return [
            ("", 0.0) if grid is None else self._text_and_confidence(next(readings))
            for grid in grids
        ]

    def _text_and_confidence(self, reading: Reading) -> tuple[str, float]:
        return self.text(reading), reading.confidence

    def read(self, image: ImageInput) -> tuple[str, float]:
        """(text, confidence) of one image; an image that cannot be read is a UserError."""
        return self.read_batch([load_image(image)])[0]
