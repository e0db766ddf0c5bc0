"""Reading images once a reader can tokenise them and read token grids: what the PyTorch reader
(`ocr.InverseDalleOCR`) and the onnxruntime one (`onnx_reading.OnnxOCR`) share, test-time
augmentation (`tta` views per image, voted on: voting.py) included."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import torch
from PIL import Image

from inverse_dalle.batch_sizing import MemorySizedBatches
from inverse_dalle.process_reading import FORKS, prepare_in_processes, read_in_processes
from inverse_dalle.reading import Reading
from inverse_dalle.vocabulary import Vocabulary
from inverse_dalle.voting import vote
from ocr_common.cores import available_cores
from ocr_common.errors import UserError
from ocr_common.images import UnreadableImage, load_image

ImageInput = str | os.PathLike | Image.Image
Grid = list[list[int]]


class LineReader:
    """Subclasses give `vocabulary`, `prepare` and `encode` (the VQVAE encoder's input and
    codes), and `read_grids`."""

    vocabulary: Vocabulary
    tta: int = 1  # views read per image and voted on; 1: the image alone
    tta_threshold: float | None = None  # read the other views only below this confidence
    device = torch.device("cpu")

    @property
    def decode_workers(self) -> int:
        """Processes preparing image files for the encoder (process_reading.py): on a GPU,
        which one core would keep waiting, up to 8 (forked: Linux only); on CPU 1, the cores
        being torch's."""
        if self.device.type != "cuda" or not FORKS:
            return 1
        return min(8, available_cores())

    def set_tta(self, views: int, threshold: float | None = None) -> None:
        """Read `views` views of each image; with `threshold`, the image alone first and the
        other views only where that reading's confidence is below it (most images are read
        surely and rightly the first time, and their views would agree)."""
        if views < 1:
            raise UserError(f"tta must be at least 1 view, not {views}")
        if threshold is not None and not (views > 1 and 0.0 < threshold <= 1.0):
            raise UserError(f"a tta threshold needs tta > 1 and lies in (0, 1], not {threshold}")
        self.tta, self.tta_threshold = views, threshold

    def prepare(self, image: Image.Image, view: int = 0) -> Any:
        """The encoder's input for test-time `view` of one image."""
        raise NotImplementedError

    def encode(self, inputs: Sequence[Any], batch_size: int = 64) -> list[Grid]:
        """A grid per prepared input."""
        raise NotImplementedError

    def read_grids(self, grids: Sequence[Grid], batch_size: int = 64) -> list[Reading]:
        raise NotImplementedError

    def text(self, reading: Reading) -> str:
        return self.vocabulary.decode(reading.ids)

    def tokenize_each(
        self, images: Sequence[ImageInput], batch_size: int = 64, view: int = 0
    ) -> list[Grid | None]:
        """A grid per image (its test-time `view`), None where it cannot be read."""
        grids = self._tokenize(images, batch_size, [view])
        return [None if views is None else views[0] for views in grids]

    def tokenize_views(
        self, images: Sequence[ImageInput], batch_size: int = 64
    ) -> list[list[Grid] | None]:
        """The grids of each image's `tta` views, None where the image cannot be read."""
        return self._tokenize(images, batch_size, range(self.tta))

    def _tokenize(
        self, images: Sequence[ImageInput], batch_size: int, views: Sequence[int]
    ) -> list[list[Grid] | None]:
        """Each file is decoded once, its views shrunk to the encoder's input and the image
        dropped before the next, so a batch of big photos needs little memory; on a GPU in
        `decode_workers` processes, chunk by chunk."""

        def prepared(image: ImageInput) -> list[Any] | None:
            try:
                loaded = load_image(image)
            except UnreadableImage:
                return None
            return [self.prepare(loaded, view) for view in views]

        inputs = prepare_in_processes(prepared, images, self.decode_workers)
        flat = [x for each in inputs if each is not None for x in each]
        encoded = iter(self.encode(flat, batch_size))
        return [None if each is None else [next(encoded) for _ in each] for each in inputs]

    def read_views(
        self, views: Sequence[list[Grid] | None], batch_size: int = 64
    ) -> list[tuple[str, float, bool] | None]:
        """(text, confidence, ended) voted over each image's view grids; None stays None."""
        readable = [grids for grids in views if grids is not None]
        decided = iter(self._decide(self._read(readable, batch_size), readable, batch_size))
        return [None if grids is None else next(decided) for grids in views]

    def read_images(
        self, images: Sequence[ImageInput], batch_size: int = 64
    ) -> list[tuple[str, float, bool] | None]:
        """(text, confidence, ended) of each image, None where it cannot be read: its `tta` views
        voted on, or with `tta_threshold` the image alone where that reading is sure enough."""
        if self.tta_threshold is None:
            views = self.tokenize_views(images, batch_size)
            return self.refine(images, self.read_views(views, batch_size), views, batch_size)
        first = self.tokenize_each(images, batch_size)
        known = [i for i, grid in enumerate(first) if grid is not None]
        grids = {i: [first[i]] for i in known}
        read = dict(zip(known, self._read([grids[i] for i in known], batch_size), strict=True))
        unsure = [i for i in known if read[i][0][1].confidence < self.tta_threshold]
        # Unsure files are decoded again: 0.3 ms each, where preparing the other views of every
        # file up front would cost ~2 ms for each sure one (one thread, held-out lines).
        others = self._tokenize([images[i] for i in unsure], batch_size, range(1, self.tta))
        more = {i: views for i, views in zip(unsure, others, strict=True) if views is not None}
        for i, extra in zip(more, self._read(list(more.values()), batch_size), strict=True):
            grids[i] += more[i]
            read[i] += extra
        decided = self._decide([read[i] for i in known], [grids[i] for i in known], batch_size)
        results = dict(zip(known, decided, strict=True))
        return self.refine(
            images,
            [results.get(i) for i in range(len(images))],
            [grids.get(i) for i in range(len(images))],
            batch_size,
        )

    def refine(
        self,
        images: Sequence[ImageInput],
        results: list[tuple[str, float, bool] | None],
        views: Sequence[list[Grid] | None],
        batch_size: int = 64,
    ) -> list[tuple[str, float, bool] | None]:
        """The readings of `images` (from the grids of their `views`), as a subclass may revise
        them (InverseDalleOCR's tiles); here unchanged."""
        return results

    def _read(self, views: list[list[Grid]], batch_size: int) -> list[list[tuple[str, Reading]]]:
        """Each image's views' (text, reading), all views read in one pass."""
        readings = iter(self.read_grids([grid for grids in views for grid in grids], batch_size))
        return [[(self.text(r), r) for r in (next(readings) for _ in grids)] for grids in views]

    def _decide(
        self, read: list[list[tuple[str, Reading]]], views: list[list[Grid]], batch_size: int
    ) -> list[tuple[str, float, bool]]:
        """(text, confidence, ended) of each image from its views' readings (choose_each)."""
        chosen = self.choose_each(
            [[(text, r.confidence) for text, r in mine] for mine in read], views, batch_size
        )
        return [
            (text, confidence, all(r.ended for t, r in mine if t == text))
            for (text, confidence), mine in zip(chosen, read, strict=True)
        ]

    def choose_each(
        self,
        readings: list[list[tuple[str, float]]],
        grids: list[list[Grid]],
        batch_size: int = 64,
    ) -> list[tuple[str, float]]:
        """(text, confidence) of each image from its views' readings (and grids): the vote."""
        return [vote(mine) for mine in readings]

    def read_batch(
        self, images: Sequence[ImageInput], batch_size: int | None = None, workers: int = 1
    ) -> list[tuple[str, float]]:
        """(text, confidence) for each image or image path; confidence = P(chosen tokens) (with
        `tta` views: their vote's share). An image that cannot be read gives ("", 0.0), as in
        predict: the others are still read. `batch_size` images at once (None: the device's
        default; on a GPU halved while memory runs out: batch_sizing.py). `workers` > 1: that
        many processes, one CPU core each (process_reading.py), with the same readings."""
        batches = MemorySizedBatches(batch_size, self.device)
        if workers != 1:
            results = read_in_processes(self, images, batches.batch_size, workers)
        else:
            results = batches(self.read_images, images)
        return [("", 0.0) if result is None else result[:2] for result in results]

    def read(self, image: ImageInput) -> tuple[str, float]:
        """(text, confidence) of one image; an image that cannot be read is a UserError."""
        return self.read_batch([load_image(image)])[0]
