"""What makes a photographed sign unlike a clean render: applied to a share of the training images.

Letter spacing widens the line as it is laid out; text effects (outline, drop shadow, 3-D
extrusion) are drawn from the ink mask before the colours are laid; photo effects (textured
backgrounds, uneven light and glare, perspective and a slight curve, motion blur, low resolution,
tight or loose crops) act on the composed picture. Each effect is drawn independently, so most
images get a few of them, and every draw comes from the caller's generator, so an image stays a
pure function of its seed.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageFilter

TEXT_EFFECT_PROBABILITY = 0.5  # one of outline / shadow / extrusion
EFFECT_PROBABILITY = {
    "texture": 0.5,
    "light": 0.4,
    "glare": 0.2,
    "perspective": 0.4,
    "curve": 0.2,
    "motion_blur": 0.2,
    "low_resolution": 0.25,
    "crop": 0.3,
    "letter_spacing": 0.3,
}


def _shifted(mask: np.ndarray, dy: int, dx: int) -> np.ndarray:
    out = np.zeros_like(mask)
    h, w = mask.shape
    out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = mask[
        max(-dy, 0) : h - max(dy, 0), max(-dx, 0) : w - max(dx, 0)
    ]
    return out


def decoration_mask(mask: Image.Image, size: int, rng: np.random.Generator) -> np.ndarray | None:
    """Coverage (0–1) of an outline, drop shadow or extrusion around the ink, or None.

    The mask must already carry margins wide enough for the decoration (a tenth of an em).
    """
    if rng.random() >= TEXT_EFFECT_PROBABILITY:
        return None
    ink = np.asarray(mask, dtype=np.float32) / 255.0
    kind = rng.integers(3)
    reach = max(1, round(size * rng.uniform(0.04, 0.1)))
    if kind == 0:  # outline: the ink grown by `reach` pixels
        grown = mask.filter(ImageFilter.MaxFilter(2 * reach + 1))
        return np.asarray(grown, dtype=np.float32) / 255.0
    angle = rng.uniform(0, 2 * math.pi)
    dy, dx = math.sin(angle), math.cos(angle)
    if kind == 1:  # soft drop shadow
        shadow = _shifted(ink, round(dy * reach), round(dx * reach))
        blurred = Image.fromarray((shadow * 255).astype(np.uint8)).filter(
            ImageFilter.GaussianBlur(reach / 2)
        )
        return np.asarray(blurred, dtype=np.float32) / 255.0 * rng.uniform(0.5, 1.0)
    extrusion = np.zeros_like(ink)  # 3-D: the ink repeated step by step along one direction
    for step in range(1, reach + 1):
        extrusion = np.maximum(extrusion, _shifted(ink, round(dy * step), round(dx * step)))
    return extrusion


def _smooth_noise(shape: tuple[int, int], cells: int, rng: np.random.Generator) -> np.ndarray:
    """Values in 0–1 varying smoothly over the picture (bicubic up-sampled random cells)."""
    h, w = shape
    small = (rng.random((cells, max(2, cells * w // max(h, 1)))) * 255).astype(np.uint8)
    big = Image.fromarray(small).resize((w, h), Image.Resampling.BICUBIC)
    return np.asarray(big, dtype=np.float32) / 255.0


def textured(background: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stains, grain, stripes (wood, siding) or bricks over a background (H, W, 3)."""
    if rng.random() >= EFFECT_PROBABILITY["texture"]:
        return background
    h, w = background.shape[:2]
    kind = rng.integers(3)
    if kind == 0:
        pattern = _smooth_noise((h, w), int(rng.integers(2, 8)), rng) - 0.5
    elif kind == 1:
        ys, xs = np.mgrid[0:h, 0:w]
        period = rng.uniform(4, 24)
        angle = rng.uniform(0, math.pi)
        along = xs * math.cos(angle) + ys * math.sin(angle)
        pattern = 0.5 * np.sin(2 * math.pi * along / period + _smooth_noise((h, w), 3, rng) * 4)
    else:
        ys, xs = np.mgrid[0:h, 0:w]
        row = max(4, int(rng.integers(6, 20)))
        col = row * 2
        offset = (ys // row % 2) * (col // 2)
        mortar = (ys % row < max(1, row // 6)) | ((xs + offset) % col < max(1, row // 6))
        pattern = np.where(mortar, 0.5, -0.2).astype(np.float32)
    strength = rng.uniform(10, 45)
    return background + pattern[..., None] * strength


def lit(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Uneven light (a smooth multiplicative field) and a glare spot, on pixels (H, W, 3)."""
    h, w = image.shape[:2]
    if rng.random() < EFFECT_PROBABILITY["light"]:
        field = 1.0 + (_smooth_noise((h, w), 2, rng) - 0.5) * rng.uniform(0.4, 1.0)
        image = image * field[..., None]
    if rng.random() < EFFECT_PROBABILITY["glare"]:
        ys, xs = np.mgrid[0:h, 0:w]
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        radius = rng.uniform(0.15, 0.6) * max(h, w)
        spot = np.exp(-(((ys - cy) ** 2 + ((xs - cx) * rng.uniform(0.3, 1)) ** 2) / radius**2))
        image = image + spot[..., None] * rng.uniform(60, 200)
    return image


def _perspective(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    w, h = image.size
    jitter = rng.uniform(0.02, 0.12)

    def corner(x: float, y: float) -> tuple[float, float]:
        return x + rng.uniform(-jitter, jitter) * w, y + rng.uniform(-jitter, jitter) * h

    source = [corner(0, 0), corner(w, 0), corner(w, h), corner(0, h)]
    target = [(0, 0), (w, 0), (w, h), (0, h)]
    # Solve for the 8 coefficients mapping target (output) points onto source (input) points.
    rows, values = [], []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        values.extend([u, v])
    coefficients = np.linalg.solve(np.array(rows), np.array(values))
    fill = tuple(int(c) for c in np.asarray(image)[0, 0])
    return image.transform(
        (w, h),
        Image.Transform.PERSPECTIVE,
        tuple(coefficients),
        Image.Resampling.BICUBIC,
        fillcolor=fill,
    )


def _curved(image: Image.Image, vertical: bool, rng: np.random.Generator) -> Image.Image:
    """Bend the line: each column (row, for vertical text) shifts along a slow sine."""
    pixels = np.asarray(image)
    if vertical:
        pixels = pixels.transpose(1, 0, 2)
    h, w = pixels.shape[:2]
    amplitude = rng.uniform(0.03, 0.1) * h
    phase = rng.uniform(0, 2 * math.pi)
    shifts = np.round(
        amplitude * np.sin(np.linspace(0, rng.uniform(0.5, 1.5) * math.pi, w) + phase)
    )
    shifts = shifts.astype(int) - round(amplitude)
    rows = (np.arange(h)[:, None] + shifts[None, :]).clip(0, h - 1)
    bent = pixels[rows, np.arange(w)[None, :]]
    if vertical:
        bent = bent.transpose(1, 0, 2)
    return Image.fromarray(np.ascontiguousarray(bent))


def _motion_blur(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    length = max(2, round(size * rng.uniform(0.05, 0.15)))
    angle = rng.uniform(0, math.pi)
    pixels = np.asarray(image, dtype=np.float32)
    total = np.zeros_like(pixels)
    for step in range(length):
        offset = step - length / 2
        total += np.roll(
            pixels, (round(offset * math.sin(angle)), round(offset * math.cos(angle))), (0, 1)
        )
    return Image.fromarray((total / length).clip(0, 255).astype(np.uint8))


def _cropped(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """Tight: cut up to a tenth of an em into each side; the loose case is in `loose_margins`."""
    w, h = image.size
    cut = [round(size * rng.uniform(0, 0.12)) for _ in range(4)]
    box = (cut[0], cut[1], max(cut[0] + 4, w - cut[2]), max(cut[1] + 4, h - cut[3]))
    return image.crop(box)


def letter_spacing(rng: np.random.Generator) -> float:
    """Extra space after each character, in ems: shop signs spread short names wide (하 정)."""
    if rng.random() >= EFFECT_PROBABILITY["letter_spacing"]:
        return 0.0
    return rng.uniform(0.15, 1.0)


def loose_margins(rng: np.random.Generator) -> float:
    """A multiplier on the renderer's margins: a loose crop shows much more of the sign."""
    return rng.uniform(1.5, 4.0) if rng.random() < EFFECT_PROBABILITY["crop"] / 2 else 1.0


def photographed(
    image: Image.Image, size: int, vertical: bool, rng: np.random.Generator
) -> Image.Image:
    """Geometry, blur, resolution and crop effects on a composed RGB text image."""
    if rng.random() < EFFECT_PROBABILITY["perspective"]:
        image = _perspective(image, rng)
    if rng.random() < EFFECT_PROBABILITY["curve"]:
        image = _curved(image, vertical, rng)
    if rng.random() < EFFECT_PROBABILITY["motion_blur"]:
        image = _motion_blur(image, size, rng)
    if rng.random() < EFFECT_PROBABILITY["low_resolution"]:
        factor = rng.uniform(2, 4)
        w, h = image.size
        small = image.resize((max(4, round(w / factor)), max(4, round(h / factor))), Image.BILINEAR)
        image = small.resize((w, h), Image.Resampling.BILINEAR)
    if rng.random() < EFFECT_PROBABILITY["crop"] / 2:
        image = _cropped(image, size, rng)
    return image
