"""A PNG-ready grid: each original above its reconstruction, pairs stacked down the page."""

from __future__ import annotations

from collections.abc import Sequence

from PIL import Image


def reconstruction_grid(
    originals: Sequence[Image.Image], reconstructions: Sequence[Image.Image], gap: int = 4
) -> Image.Image:
    pairs = list(zip(originals, reconstructions, strict=False))
    width = max(max(a.width, b.width) for a, b in pairs)
    height = sum(a.height + b.height + 2 * gap for a, b in pairs)
    grid = Image.new("RGB", (width, height), (255, 255, 255))
    top = 0
    for original, reconstruction in pairs:
        grid.paste(original, (0, top))
        grid.paste(reconstruction, (0, top + original.height + gap // 2))
        top += original.height + reconstruction.height + 2 * gap
    return grid
