"""Whole images: the text lines' boxes (given, or found by Tesseract), cropped and read one by one.

The reader reads single cropped lines; a photo read whole gives one meaningless reading. Boxes come
from a table (`img_path,x,y,w,h[,text]`), AIHub label JSON, or Tesseract's layout analysis of the
picture (`--psm 3`, on the picture and its negative under each of Tesseract's three binarisations,
because one alone misses light text on dark panels; overlapping finds are merged). Each box is
cropped with a margin like the training crops' and read; readings keep their boxes and can be
drawn onto the image.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import pandas as pd
from PIL import Image, ImageDraw, ImageFont, ImageOps

from inverse_dalle.ocr import InverseDalleOCR
from ocr_common.aihub.labels import MalformedLabels, read_label_file
from ocr_common.aihub.locate import ImageLocator, Unlocatable
from ocr_common.errors import UserError
from ocr_common.fonts import TRAIN, fonts_by_split
from ocr_common.images import list_images, load_image
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import read_page_lines

THRESHOLDINGS = (0, 1, 2)  # Tesseract 5: Otsu, adaptive Otsu, Sauvola
SAME_LINE_IOU = 0.3  # two finds overlapping this much are one line
# Margins added around a found line, in units of its height: the training crops have 0.05–0.5 em
# along the line and 0.05–0.3 em across it, Tesseract's line boxes none.
MARGIN_ALONG, MARGIN_ACROSS = 0.25, 0.15
TABLE_COLUMNS = ("img_path", "x", "y", "w", "h", "text", "confidence")


@dataclass(frozen=True)
class Box:
    x: int
    y: int
    w: int
    h: int

    @property
    def area(self) -> int:
        return self.w * self.h

    def overlap(self, other: Box) -> int:
        width = min(self.x + self.w, other.x + other.w) - max(self.x, other.x)
        height = min(self.y + self.h, other.y + other.h) - max(self.y, other.y)
        return max(width, 0) * max(height, 0)

    def iou(self, other: Box) -> float:
        overlap = self.overlap(other)
        return overlap / max(self.area + other.area - overlap, 1)

    def padded(self, along: float, across: float, width: int, height: int) -> Box:
        """Grown by `along`/`across` × the line's thickness, inside a width × height image."""
        thickness = min(self.w, self.h)
        vertical = self.h > self.w
        dx = round(thickness * (across if vertical else along))
        dy = round(thickness * (along if vertical else across))
        left, top = max(self.x - dx, 0), max(self.y - dy, 0)
        right, bottom = min(self.x + self.w + dx, width), min(self.y + self.h + dy, height)
        return Box(left, top, right - left, bottom - top)


@dataclass
class LineReading:
    box: Box
    text: str
    confidence: float
    reference: str | None = None  # the text a table or label file gave for the box


def detect_lines(path: str | os.PathLike) -> list[Box]:
    """Text-line boxes of a photo, top to bottom: Tesseract's finds in the photo and in its
    negative (light text on dark panels), under each binarisation, overlapping ones merged (the
    larger kept)."""
    with tempfile.TemporaryDirectory() as folder:
        negative = Path(folder) / "negative.png"
        ImageOps.invert(load_image(path).convert("L")).save(negative)
        found = [
            Box(line.x, line.y, line.w, line.h)
            for source in (path, negative)
            for thresholding in THRESHOLDINGS
            for line in read_page_lines(source, thresholding=thresholding)
        ]
    kept: list[Box] = []
    for box in sorted(found, key=lambda b: b.area, reverse=True):
        if all(box.iou(other) < SAME_LINE_IOU for other in kept):
            kept.append(box)
    return sorted(kept, key=lambda b: (b.y, b.x))


def read_lines(
    ocr: InverseDalleOCR,
    image: Image.Image,
    boxes: Sequence[Box],
    references: Sequence[str | None] | None = None,
    margins: tuple[float, float] = (0.0, 0.0),
    batch_size: int | None = None,
) -> list[LineReading]:
    """Crop each box (grown by `margins` = along, across; clipped to the image) and read it."""
    crops, kept = [], []
    for box in boxes:
        grown = box.padded(*margins, image.width, image.height)
        if grown.w > 0 and grown.h > 0:  # a box wholly outside the image reads as nothing
            crops.append(image.crop((grown.x, grown.y, grown.x + grown.w, grown.y + grown.h)))
            kept.append(box)
    readings = dict(zip(kept, ocr.read_batch(crops, batch_size), strict=True)) if crops else {}
    references = references or [None] * len(boxes)
    return [
        LineReading(box, *readings.get(box, ("", 0.0)), reference)
        for box, reference in zip(boxes, references, strict=True)
    ]


def read_photo(ocr: InverseDalleOCR, path: str | os.PathLike) -> list[LineReading]:
    """Find the text lines of a photo with Tesseract's layout analysis, then read each one."""
    margins = (MARGIN_ALONG, MARGIN_ACROSS)
    return read_lines(ocr, load_image(path), detect_lines(path), margins=margins)


BoxesByImage = dict[Path, list[tuple[Box, str | None]]]


def boxes_from_table(path: Path) -> BoxesByImage:
    """`img_path,x,y,w,h[,text]` (img_path relative to the table), grouped by image in order."""
    table = read_table(path, required=("img_path", "x", "y", "w", "h"))
    try:
        coordinates = table[["x", "y", "w", "h"]].astype(float).round().astype(int)
    except ValueError as error:
        raise UserError(f"{path}: x, y, w, h must be numbers ({error})") from None
    texts = table["text"].astype(str) if "text" in table.columns else [None] * len(table)
    grouped: BoxesByImage = {}
    for image, (_, row), text in zip(
        resolve_image_paths(table, path), coordinates.iterrows(), texts, strict=True
    ):
        grouped.setdefault(image, []).append((Box(*row), text))
    return grouped


def boxes_from_aihub(paths: Sequence[Path], image_dir: Path) -> tuple[BoxesByImage, Counter]:
    """The annotations of AIHub label files (their texts as references), with the images looked
    up under `image_dir`; returns the skips by reason too (as the preprocessing counts them)."""
    locator, skipped = ImageLocator(image_dir), Counter()
    grouped: BoxesByImage = {}
    for path in paths:
        try:
            labelled = read_label_file(path, skipped)
        except MalformedLabels as error:
            raise UserError(f"{path}: {error}") from None
        for image in labelled:
            try:
                found, _ = locator.find(PurePosixPath(), image.file_name)
            except Unlocatable as error:
                skipped[error.reason] += len(image.annotations)
                continue
            grouped.setdefault(found, []).extend(
                (Box(*(round(v) for v in a.box)), a.text) for a in image.annotations
            )
    return grouped, skipped


def load_boxes(source: Path, image_dir: str | os.PathLike | None) -> tuple[BoxesByImage, Counter]:
    """Boxes from a table, an AIHub label file or a folder of them (images under `image_dir`,
    default beside the labels), and the AIHub annotations skipped, by reason."""
    if source.is_dir() or source.suffix.lower() == ".json":
        labels = sorted(source.rglob("*.json")) if source.is_dir() else [source]
        if not labels:
            raise UserError(f"{source}: no .json label files")
        return boxes_from_aihub(
            labels, Path(image_dir or (source if source.is_dir() else source.parent))
        )
    return boxes_from_table(source), Counter()


def read_boxed_images(
    ocr: InverseDalleOCR, grouped: BoxesByImage, batch_size: int | None = None
) -> dict[str, list[LineReading]]:
    """Every image's boxes read, cropped as given (no margin added: AIHub crops are the box)."""
    readings = {}
    for path, boxes in grouped.items():
        references = [reference for _, reference in boxes]
        image = load_image(path)
        readings[str(path)] = read_lines(
            ocr, image, [b for b, _ in boxes], references, batch_size=batch_size
        )
    return readings


def photos_in(path: Path) -> list[Path]:
    """A photo, or the images of a folder."""
    return list_images(path) if path.is_dir() else [path]


def readings_table(readings: dict[str, list[LineReading]]) -> pd.DataFrame:
    """One row per line: img_path,x,y,w,h,text,confidence[,reference]."""
    rows = [
        {
            "img_path": image,
            "x": r.box.x,
            "y": r.box.y,
            "w": r.box.w,
            "h": r.box.h,
            "text": r.text,
            "confidence": r.confidence,
            **({"reference": r.reference} if r.reference is not None else {}),
        }
        for image, lines in readings.items()
        for r in lines
    ]
    extra = ["reference"] if any("reference" in row for row in rows) else []
    return pd.DataFrame(rows, columns=[*TABLE_COLUMNS, *extra])


def _label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    faces = fonts_by_split()[TRAIN]
    return faces[0].load(size) if faces else ImageFont.load_default()


def draw_readings(image: Image.Image, readings: Sequence[LineReading]) -> Image.Image:
    """A copy of `image` with each box outlined and its reading written just above it."""
    drawn = image.convert("RGB")
    draw = ImageDraw.Draw(drawn)
    font = _label_font(max(12, min(32, image.height // 30)))
    for reading in readings:
        box = reading.box
        draw.rectangle((box.x, box.y, box.x + box.w, box.y + box.h), outline=(230, 0, 0), width=2)
        label = f"{reading.text} ({reading.confidence:.2f})"
        left, top, right, bottom = draw.textbbox((box.x, box.y), label, font=font, anchor="lb")
        draw.rectangle((left - 2, top - 2, right + 2, bottom + 2), fill=(230, 0, 0))
        draw.text((box.x, box.y), label, fill=(255, 255, 255), font=font, anchor="lb")
    return drawn
