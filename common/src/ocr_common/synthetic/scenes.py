"""Synthetic scenes: several rendered text lines pasted onto one larger picture, with their boxes.

What the whole-image reader is measured on: a wall or page with 2–6 horizontal lines, each drawn
by the line renderer (its own colours, background panel, rotation and blur), stacked with random
gaps and offsets. `write_scenes` writes the pictures and a boxes table
(`img_path,x,y,w,h,text,font`), the same table `inverse-dalle read-page --boxes` takes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from ocr_common.atomic import atomic_path
from ocr_common.fonts import HELDOUT, draws_text, fonts_by_split
from ocr_common.synthetic.render import render_text_image
from ocr_common.synthetic.texts import TextSampler
from ocr_common.tables import write_table

BOX_COLUMNS = ("img_path", "x", "y", "w", "h", "text", "font")


@dataclass(frozen=True)
class SceneLine:
    text: str
    font: str
    box: tuple[int, int, int, int]  # x, y, width, height of the pasted line image


def render_scene(
    rng: np.random.Generator,
    faces: list,
    sampler: TextSampler,
    num_lines: int,
    text_heights: tuple[int, int] = (20, 48),
    plain: bool = False,
) -> tuple[Image.Image, list[SceneLine]]:
    """A picture of `num_lines` horizontal lines on a light backdrop, and where each one is;
    `plain`: printed-page lines (black on white, upright, sharp) instead of sign panels."""
    crops, lines = [], []
    for _ in range(num_lines):
        face = faces[rng.integers(len(faces))]
        text, _ = sampler.sample(rng)
        while not draws_text(face, text):
            text, _ = sampler.sample(rng)
        crops.append(render_text_image(text, face, False, rng, *text_heights, plain=plain))
        lines.append((text, face.name))
    margin = int(rng.integers(16, 48))
    gaps = [int(rng.integers(8, 40)) for _ in crops]
    width = max(crop.width for crop in crops) + 2 * margin + int(rng.integers(0, 120))
    height = sum(crop.height for crop in crops) + sum(gaps) + 2 * margin
    backdrop = (255, 255, 255) if plain else tuple(int(v) for v in rng.integers(200, 256, 3))
    scene = Image.new("RGB", (width, height), backdrop)
    placed, y = [], margin
    for crop, gap, (text, font) in zip(crops, gaps, lines, strict=True):
        x = int(rng.integers(margin, width - margin - crop.width + 1))
        scene.paste(crop, (x, y))
        placed.append(SceneLine(text, font, (x, y, crop.width, crop.height)))
        y += crop.height + gap
    return scene, placed


def write_scenes(
    output_dir: str | os.PathLike,
    num_scenes: int,
    seed: int = 0,
    lines_per_scene: tuple[int, int] = (2, 6),
    font_group: str = HELDOUT,
    plain: bool = False,
) -> Path:
    """`num_scenes` PNGs under `output_dir/images/` and `output_dir/boxes.csv`; deterministic."""
    output = Path(output_dir)
    faces = fonts_by_split()[font_group]
    sampler = TextSampler()
    rows = []
    for index in range(num_scenes):
        rng = np.random.default_rng([seed, index])
        scene, lines = render_scene(
            rng,
            faces,
            sampler,
            int(rng.integers(lines_per_scene[0], lines_per_scene[1] + 1)),
            plain=plain,
        )
        relative = f"images/scene-{index:04d}.png"
        (output / relative).parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(output / relative) as tmp:
            scene.save(tmp, format="PNG")
        rows += [(relative, *line.box, line.text, line.font) for line in lines]
    table = output / "boxes.csv"
    write_table(pd.DataFrame(rows, columns=BOX_COLUMNS), table)
    return table
