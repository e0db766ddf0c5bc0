"""How one face differs from another: glyph-shape variation for a share of the training images.

An unseen face differs from the training faces in stroke weight, glyph width, slant and, for pen
and brush faces, wobbling strokes; the shipped reader's errors on held-out faces gather in
exactly those (a light face, the pen faces, a headline face). Drawing a training face's ink mask
a little bolder or lighter, narrower or wider, slanted and warped spans more of that space than
the installed faces alone. Each variation is drawn independently from the caller's generator, so
an image stays a pure function of its seed.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

VARIATION_PROBABILITY = {"weight": 0.5, "width": 0.5, "slant": 0.3, "warp": 0.4}
MIN_SIZE_TO_THIN = 32  # below this text height one pixel less ink erases thin strokes
MAX_SLANT = math.tan(math.radians(12))
WARP_CELL_EM = 0.5  # the warp's control points lie half an em apart
WARP_AMPLITUDE_EM = 0.035


def _weighted(mask: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Bolder (ink grown by 1–3.5 % of an em) or, for text of 32 px and more, one pixel lighter.

    Growth is in whole pixels, so small text is mostly left as it is: at 16 px one pixel is
    already 6 % of the em, which turns a bold face into blots.
    """
    if size < MIN_SIZE_TO_THIN or rng.random() < 0.5:
        reach = round(size * rng.uniform(0.01, 0.035))
        if reach == 0:
            return mask
        padded = Image.new("L", (mask.width + 2 * reach, mask.height + 2 * reach))
        padded.paste(mask, (reach, reach))
        return padded.filter(ImageFilter.MaxFilter(2 * reach + 1))
    thinned = mask.filter(ImageFilter.MinFilter(3))
    return thinned if thinned.getbbox() else mask


def _widened(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Condensed or extended glyphs: the width scaled by 0.7–1.35, the height kept."""
    factor = math.exp(rng.uniform(math.log(0.7), math.log(1.35)))
    return mask.resize((max(1, round(mask.width * factor)), mask.height), Image.Resampling.BICUBIC)


def _slanted(mask: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Italic or back-slanted by up to 12°: each row shifted in proportion to its height."""
    slant = rng.uniform(-MAX_SLANT, MAX_SLANT)
    width = mask.width + math.ceil(abs(slant) * mask.height)
    # Output (x, y) samples input (x + slant·y + offset, y): the top leans right for slant > 0.
    offset = -slant * mask.height if slant > 0 else 0.0
    return mask.transform(
        (width, mask.height),
        Image.Transform.AFFINE,
        (1.0, slant, offset, 0.0, 1.0, 0.0),
        resample=Image.Resampling.BICUBIC,
    )


def _warped(mask: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Wobbling strokes: a mesh of control points half an em apart, each moved at random."""
    cell = max(4, round(size * WARP_CELL_EM))
    columns, rows = math.ceil(mask.width / cell), math.ceil(mask.height / cell)
    amplitude = size * WARP_AMPLITUDE_EM
    xs = np.linspace(0, mask.width, columns + 1)
    ys = np.linspace(0, mask.height, rows + 1)
    moved = rng.uniform(-amplitude, amplitude, (rows + 1, columns + 1, 2))
    source_x = xs[None, :] + moved[..., 0]
    source_y = ys[:, None] + moved[..., 1]
    mesh = []
    for row in range(rows):
        for column in range(columns):
            box = tuple(round(v) for v in (xs[column], ys[row], xs[column + 1], ys[row + 1]))
            corners = ((row, column), (row + 1, column), (row + 1, column + 1), (row, column + 1))
            quad = [c for r, k in corners for c in (source_x[r, k], source_y[r, k])]
            mesh.append((box, quad))
    return mask.transform(mask.size, Image.Transform.MESH, mesh, Image.Resampling.BICUBIC)


def varied(mask: Image.Image, size: int, vertical: bool, rng: np.random.Generator) -> Image.Image:
    """The ink mask (mode L, 255 = ink) of a line, drawn as a slightly different face would.

    Vertical lines are never slanted: a sheared column would drift sideways glyph by glyph.
    """
    if rng.random() < VARIATION_PROBABILITY["weight"]:
        mask = _weighted(mask, size, rng)
    if rng.random() < VARIATION_PROBABILITY["width"]:
        mask = _widened(mask, rng)
    if not vertical and rng.random() < VARIATION_PROBABILITY["slant"]:
        mask = _slanted(mask, rng)
    if rng.random() < VARIATION_PROBABILITY["warp"]:
        mask = _warped(mask, size, rng)
    box = mask.getbbox()
    return mask.crop(box) if box else mask
