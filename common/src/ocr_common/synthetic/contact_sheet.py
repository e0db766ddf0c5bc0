"""A grid of dataset images with their labels drawn beneath, to check a dataset by eye.

Works on any dataset table (synthetic or AIHub crops): `img_path,text` plus, when present,
`orientation` and `font`, shown in small type under the label.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ocr_common.atomic import atomic_path
from ocr_common.errors import UserError
from ocr_common.fonts import FontFace, fonts_by_split
from ocr_common.tables import read_table, resolve_image_paths

CELL_WIDTH, IMAGE_HEIGHT, LABEL_HEIGHT, GAP = 280, 150, 44, 8
MAX_UPSCALE = 2.0


def _label_face() -> FontFace:
    faces = [face for group in fonts_by_split().values() for face in group]
    if not faces:
        raise UserError("no Korean font found to draw labels (python -m ocr_common.fonts)")
    regular = [face for face in faces if face.family == "NanumGothic" and face.style == "Regular"]
    return (regular or faces)[0]


def _fit(image: Image.Image) -> Image.Image:
    scale = min(CELL_WIDTH / image.width, IMAGE_HEIGHT / image.height, MAX_UPSCALE)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def contact_sheet(
    table_path: str | os.PathLike, count: int = 24, columns: int = 4, seed: int = 0
) -> Image.Image:
    """`count` rows of the table, picked at random with `seed`, on a white sheet."""
    table = read_table(table_path)
    if table.empty:
        raise UserError(f"{table_path}: table has no rows")
    chosen = np.sort(np.random.default_rng(seed).permutation(len(table))[:count])
    paths = resolve_image_paths(table, table_path)
    rows = -(-len(chosen) // columns)
    cell_height = IMAGE_HEIGHT + LABEL_HEIGHT + GAP
    sheet = Image.new(
        "RGB", (columns * (CELL_WIDTH + GAP) + GAP, rows * cell_height + GAP), "white"
    )
    draw = ImageDraw.Draw(sheet)
    face = _label_face()
    label_font, detail_font = face.load(20), face.load(12)
    for slot, index in enumerate(chosen):
        left = GAP + (slot % columns) * (CELL_WIDTH + GAP)
        top = GAP + (slot // columns) * cell_height
        try:
            with Image.open(paths[index]) as image:
                thumbnail = _fit(image.convert("RGB"))
        except OSError as error:
            raise UserError(f"{paths[index]}: cannot read image ({error})") from None
        sheet.paste(thumbnail, (left + (CELL_WIDTH - thumbnail.width) // 2, top))
        row = table.iloc[index]
        draw.text((left, top + IMAGE_HEIGHT + 2), row["text"], fill="black", font=label_font)
        details = " · ".join(str(row[key]) for key in ("orientation", "font") if key in row)
        draw.text((left, top + IMAGE_HEIGHT + 26), details, fill="dimgray", font=detail_font)
    return sheet


def save_contact_sheet(sheet: Image.Image, path: str | os.PathLike) -> None:
    with atomic_path(Path(path)) as tmp:
        sheet.save(tmp)
