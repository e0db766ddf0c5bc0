"""Dynamic-shape templates: which grid of h rows × w columns of tokens an image is drawn into.

With a budget of L tokens and one start-of-row token per row, a template must satisfy
h·(w+1) ≤ L (the budget rule of vqvae.token_table). Only maximal templates (neither side can
grow) are candidates, and an image takes the one whose aspect ratio is closest on a log scale,
so a 4:1 crop is not padded to a square.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from vqvae.token_table import grid_length, max_cols


@lru_cache(maxsize=64)
def maximal_templates(max_visual_length: int) -> tuple[tuple[int, int], ...]:
    """All (rows, cols) with rows·(cols+1) ≤ max_visual_length that cannot grow in either
    direction."""
    if max_visual_length < 2:
        raise ValueError(
            "max_length must be at least 2 (one row token + one image token), got "
            f"{max_visual_length}"
        )
    templates = []
    for rows in range(1, max_visual_length // 2 + 1):
        cols = max_cols(rows, max_visual_length)
        taller_cols = max_cols(rows + 1, max_visual_length)
        if cols >= 1 and taller_cols < cols:  # one more row would force fewer columns
            templates.append((rows, cols))
    return tuple(templates)


def choose_template(width: int, height: int, max_visual_length: int) -> tuple[int, int]:
    """The maximal template closest to the image's aspect ratio (ties: the larger grid)."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}×{height}")
    target = math.log(width / height)
    return min(
        maximal_templates(max_visual_length),
        key=lambda t: (abs(math.log(t[1] / t[0]) - target), -t[0] * t[1]),
    )


def square_template(max_visual_length: int) -> tuple[int, int]:
    """The largest square grid within the budget: what padding every image to a square gives."""
    side = max(s for s in range(1, max_visual_length) if grid_length(s, s) <= max_visual_length)
    return side, side


@dataclass(frozen=True)
class Placement:
    """Where an image lands inside a template: its resized size in pixels."""

    rows: int
    cols: int
    width: int  # resized image width in pixels (≤ cols · downsample)
    height: int

    def content_tokens(self, downsample: int) -> int:
        """Tokens that cover at least one pixel of the image (the rest is padding)."""
        return math.ceil(self.width / downsample) * math.ceil(self.height / downsample)


def place(width: int, height: int, template: tuple[int, int], downsample: int) -> Placement:
    """Resize (aspect kept) so the image fits the template's (rows·p, cols·p) pixels."""
    rows, cols = template
    scale = min(cols * downsample / width, rows * downsample / height)
    new_width = min(cols * downsample, max(1, round(width * scale)))
    new_height = min(rows * downsample, max(1, round(height * scale)))
    return Placement(rows, cols, new_width, new_height)


def wasted_slot_share(
    sizes: list[tuple[int, int]], max_visual_length: int, downsample: int, square: bool = False
) -> float:
    """Mean share of the L sequence slots not covering image content (row tokens count as used)."""
    if not sizes:
        return 0.0
    wasted = 0.0
    for width, height in sizes:
        template = (
            square_template(max_visual_length)
            if square
            else choose_template(width, height, max_visual_length)
        )
        placement = place(width, height, template, downsample)
        used = placement.content_tokens(downsample) + template[0]
        wasted += 1.0 - used / max_visual_length
    return wasted / len(sizes)
