"""Drawing text-line images with an exported model, then writing them with what they say.

- From a text: a text_to_image export (src/finetune.py) samples image tokens after `<s> text </s>`.
- Unconditionally: a reader (image_to_text export) samples an image from its first [ROW], then
  reads what it drew, as the original project showed (self-captioning).

Every sample is repaired to a rectangle (grid_repair) and drawn by the bundled VQVAE decoder,
without the black template padding it learned to draw along the edges. The output folder holds the
PNGs, `captions.csv` (a dataset table, `img_path,text`, so src/evaluate.py can score any reader on
it, plus each repaired grid) and `summary.json`: settings and figures.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image
from transformers import GenerationConfig

from inverse_dalle.config import SamplingConfig
from inverse_dalle.exported import ExportedModel, load_export
from inverse_dalle.grid_repair import RepairedGrid, count_repairs, repair_grid
from inverse_dalle.image_sampling import sample_image_tokens
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.reading import read_grids
from inverse_dalle.token_format import IMAGE_TO_TEXT, TEXT_TO_IMAGE, text_prompt
from ocr_common.atomic import atomic_directory, check_replaceable
from ocr_common.devices import resolve_device
from ocr_common.errors import UserError
from ocr_common.json_files import write_json
from ocr_common.metrics import normalize, score
from ocr_common.tables import write_table
from ocr_common.tesseract import read_by_orientation
from vqvae.token_table import grid_to_string

SUMMARY_FILE = "summary.json"
CAPTIONS_FILE = "captions.csv"
UNSAFE_IN_NAMES = re.compile(r"[^\w .-]")  # keeps Hangul, letters, digits, space, dot, dash


@dataclass(frozen=True)
class Drawing:
    image: Image.Image
    grid: RepairedGrid
    caption: str  # the prompt, or the drawing model's own reading when unconditional
    confidence: float | None = None  # of a self-caption


class ImageGenerator:
    """An export with its VQVAE, drawing from a text (text_to_image) or from nothing (a reader)."""

    def __init__(self, exported: ExportedModel) -> None:
        if exported.tokenizer is None:
            raise UserError(f"{exported.directory}: no bundled vqvae/ to draw images with")
        self.exported = exported

    @classmethod
    def from_pretrained(
        cls, directory: str | os.PathLike, device: str | None = None
    ) -> ImageGenerator:
        """The export in `directory` on `device` (None: cuda when available, else cpu)."""
        return cls(load_export(directory, resolve_device(device)))

    def default_sampling(self) -> SamplingConfig:
        """The export's sampling settings (generation_config.json); plain sampling for a reader."""
        config = GenerationConfig.from_pretrained(self.exported.directory)
        if not config.do_sample:
            return SamplingConfig()
        return SamplingConfig(
            config.top_k or 0,
            config.top_p or 1.0,
            config.temperature or 1.0,
            # absent from drawers finetuned before guidance; 0 is a scale, not "absent"
            1.0 if config.guidance_scale is None else config.guidance_scale,
        )

    def _require(self, order: str, remedy: str) -> None:
        if self.exported.order != order:
            raise UserError(f"{self.exported.directory}: order {self.exported.order}; {remedy}")

    def encode_prompt(self, prompt: str) -> list[int]:
        """Text ids of `prompt`; characters the model cannot write are refused, by name."""
        vocabulary, layout = self.exported.vocabulary, self.exported.layout
        unknown = vocabulary.unknown_characters(prompt)
        if unknown:
            raise UserError(
                f"prompt has character(s) outside the model's vocabulary: "
                f"{' '.join(repr(c) for c in unknown)}"
            )
        ids = vocabulary.encode(prompt)
        if not ids or len(ids) > layout.max_text_length:
            raise UserError(
                f"prompt has {len(ids)} {vocabulary.text_unit} token(s); this model draws 1 to "
                f"{layout.max_text_length}"
            )
        return ids

    def _sample(
        self,
        prompt_ids: list[int],
        num_images: int,
        settings: SamplingConfig | None,
        seed: int,
        batch_size: int,
    ) -> list[list[int]]:
        """Image tokens after `prompt_ids` (nothing, for a reader drawing unconditionally)."""
        exported, layout = self.exported, self.exported.layout
        drawer = exported.order == TEXT_TO_IMAGE
        return sample_image_tokens(
            exported.model,
            layout,
            prompt_ids,
            layout.image_start(exported.order),
            num_images,
            settings or self.default_sampling(),
            seed,
            batch_size,
            can_end=drawer,  # only a drawing model learned to end an image with [IMG_PAD]
            empty_prompt=text_prompt([]) if drawer else None,
        )

    def _draw(self, samples: list[list[int]], captions: list[str]) -> list[Drawing]:
        grids = [repair_grid(sample, self.exported.layout) for sample in samples]
        draw = self.exported.tokenizer.draw
        return [
            Drawing(draw(grid.grid, trim=True), grid, caption)
            for grid, caption in zip(grids, captions, strict=True)
        ]

    def draw(
        self,
        prompt: str,
        num_images: int,
        settings: SamplingConfig | None = None,
        seed: int = 0,
        batch_size: int = 16,
    ) -> list[Drawing]:
        """`num_images` images of `prompt`; `settings` default to the export's."""
        self._require(TEXT_TO_IMAGE, "finetune it with src/finetune.py, or use --unconditional")
        prompt_ids = text_prompt(self.encode_prompt(prompt))
        samples = self._sample(prompt_ids, num_images, settings, seed, batch_size)
        return self._draw(samples, [prompt] * num_images)

    def draw_unconditional(
        self,
        num_images: int,
        settings: SamplingConfig | None = None,
        seed: int = 0,
        batch_size: int = 16,
    ) -> list[Drawing]:
        """Images from nothing, each captioned by the same model reading its own tokens."""
        self._require(IMAGE_TO_TEXT, "it draws from a text prompt; --unconditional needs a reader")
        exported = self.exported
        samples = self._sample([], num_images, settings, seed, batch_size)
        drawings = self._draw(samples, [""] * num_images)
        readings = read_grids(
            exported.model, exported.layout, [d.grid.grid for d in drawings], batch_size
        )
        return [
            replace(d, caption=exported.vocabulary.decode(r.ids), confidence=r.confidence)
            for d, r in zip(drawings, readings, strict=True)
        ]


@dataclass(frozen=True)
class GenerationRequest:
    model_dir: Path
    prompt: str | None  # None: unconditional (a reader draws and captions)
    output_dir: Path
    num_images: int = 8
    seed: int = 0
    batch_size: int = 16
    sampling: dict[str, Any] = field(default_factory=dict)  # overrides of the export's defaults
    reader_dir: Path | None = None  # an OCR export that reads each image back
    candidates: int = 1  # draw this many per image and keep the one the reader likes best
    device: str | None = None  # None: cuda when available, else cpu
    tesseract: bool = False  # Tesseract reads each image back too: a judge we did not train


def file_name(index: int, caption: str) -> str:
    """`0003.png`, or `0003-<caption>.png` with characters unsafe in file names replaced."""
    safe = UNSAFE_IN_NAMES.sub("_", caption).strip()[:40]
    return f"{index:04d}-{safe}.png" if safe else f"{index:04d}.png"


def best_of(
    reader: InverseDalleOCR, grids: list[list[list[int]]], prompt: str, candidates: int
) -> list[int]:
    """Index, in each run of `candidates` grids, of the one the reader most likely reads as
    `prompt` (DALL-E reranked its samples with CLIP; a reader is our image-text scorer)."""
    scores = reader.log_likelihoods(grids, prompt)
    return [
        max(range(start, start + candidates), key=scores.__getitem__)
        for start in range(0, len(grids), candidates)
    ]


def generate(request: GenerationRequest) -> dict[str, Any]:
    """Draw, optionally read back, write the output folder (all at once); return the summary."""
    if request.num_images < 1 or request.batch_size < 1 or request.candidates < 1:
        raise UserError("--num-images, --batch-size and --candidates must be at least 1")
    if request.candidates > 1 and (request.prompt is None or request.reader_dir is None):
        raise UserError("--candidates ranks drawings of a prompt: give a prompt and --reader")
    check_replaceable(request.output_dir, SUMMARY_FILE, overwrite=False)  # before drawing
    generator = ImageGenerator.from_pretrained(request.model_dir, request.device)
    try:
        settings = replace(generator.default_sampling(), **request.sampling)
        settings.validate()
    except ValueError as error:
        raise UserError(f"sampling: {error}") from None
    if request.prompt is None and settings.guidance_scale != 1.0:
        raise UserError("--guidance-scale steers a drawer towards its prompt: give a prompt")
    reader = (
        InverseDalleOCR.from_pretrained(request.reader_dir, request.device)
        if request.reader_dir
        else None
    )
    start = time.perf_counter()
    if request.prompt is None:
        drawings = generator.draw_unconditional(
            request.num_images, settings, request.seed, request.batch_size
        )
    else:
        drawings = generator.draw(
            request.prompt,
            request.num_images * request.candidates,
            settings,
            request.seed,
            request.batch_size,
        )
    drawn, grids, kept = drawings, None, None
    if request.candidates > 1:  # the reader tokenises each drawing once: to rank and to read back
        grids = reader.tokenize([d.image for d in drawn])
        kept = best_of(reader, grids, request.prompt, request.candidates)
        drawings = [drawn[i] for i in kept]
    seconds = time.perf_counter() - start
    texts = [d.caption for d in drawings]
    # Self-captions go into the file names too; a prompt is the same for every image.
    names = [file_name(i, text if request.prompt is None else "") for i, text in enumerate(texts)]
    table = pd.DataFrame(
        {
            "img_path": names,
            "text": texts,
            "rows": [d.grid.shape[0] for d in drawings],
            "cols": [d.grid.shape[1] for d in drawings],
            "repairs": [";".join(d.grid.repairs) for d in drawings],
            "visual_tokens": [grid_to_string(d.grid.grid) for d in drawings],
        }
    )
    summary: dict[str, Any] = {
        "model": str(request.model_dir),
        "order": generator.exported.order,
        "prompt": request.prompt,
        "num_images": len(drawings),
        "sampling": asdict(settings),
        "seed": request.seed,
        "batch_size": request.batch_size,
        "candidates": request.candidates,
        "repairs": count_repairs(d.grid for d in drawings),
        "seconds": round(seconds, 3),
        "images_per_second": round(len(drawings) / seconds, 2),
    }
    if request.prompt is None:
        table["confidence"] = [d.confidence for d in drawings]
    if reader is not None:
        if grids is None:
            grids = reader.tokenize([d.image for d in drawn])
        every = [reader.text(r) for r in reader.read_grids(grids)]
        readings = every if kept is None else [every[i] for i in kept]
        scores = score(readings, texts)
        table["reading"] = readings
        table["match"] = [
            normalize(r) == normalize(t) for r, t in zip(readings, texts, strict=True)
        ]
        summary["read_back"] = {"reader": str(request.reader_dir), **scores.as_dict()}
        if kept is not None:  # the same reader chose them: compare with all it chose from
            summary["read_back_all_candidates"] = score(every, [d.caption for d in drawn]).as_dict()
    with atomic_directory(request.output_dir, SUMMARY_FILE) as staging:
        for name, drawing in zip(names, drawings, strict=True):
            drawing.image.save(staging / name)
        if request.tesseract:  # it reads the PNGs as written
            orientations = [
                "vertical" if d.image.height > d.image.width else "horizontal" for d in drawings
            ]
            readings = read_by_orientation([staging / n for n in names], orientations)
            table["tesseract"] = readings
            table["tesseract_match"] = [
                normalize(r) == normalize(t) for r, t in zip(readings, texts, strict=True)
            ]
            summary["read_back_tesseract"] = score(readings, texts).as_dict()
        write_table(table, staging / CAPTIONS_FILE)
        write_json(staging / SUMMARY_FILE, summary)
    return summary
