"""Draw one text line as a cropped sign-like image: layout, colours, background, degradations.

Every random choice comes from the generator passed in, so an image is a pure function of
(text, font, orientation, generator state).
"""

from __future__ import annotations

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from ocr_common.fonts import FontFace
from ocr_common.synthetic import glyph_variation, sign_effects

MIN_CONTRAST = (
    3.0  # WCAG 2 ratio asked of large text: https://www.w3.org/TR/WCAG21/#contrast-minimum
)
MAX_ROTATION_DEGREES = 3.0
ROTATION_PROBABILITY = 0.5
BLUR_PROBABILITY = 0.3
JPEG_PROBABILITY = 0.4
BACKGROUNDS = ("plain", "gradient", "noisy")


def text_mask(
    text: str, face: FontFace, size: int, vertical: bool, tracking: float = 0.0
) -> Image.Image:
    """Coverage mask (mode L, 255 = ink) cropped to the ink; vertical stacks characters.

    `tracking`: extra space after every character, in ems (signs are often letter-spaced).
    """
    font = face.load(size)
    if vertical:
        step = size * (1.05 + tracking)  # an em per syllable, a little leading, any spacing
        canvas = Image.new("L", (2 * size, math.ceil(step * len(text) + size)))
        draw = ImageDraw.Draw(canvas)
        for row, char in enumerate(text):
            draw.text((size, size / 2 + step * (row + 0.5)), char, fill=255, font=font, anchor="mm")
    elif tracking:
        advances = [font.getlength(char) + tracking * size for char in text]
        canvas = Image.new("L", (math.ceil(sum(advances) + 2 * size), 2 * size))
        draw = ImageDraw.Draw(canvas)
        x = size / 2
        for char, advance in zip(text, advances, strict=True):
            draw.text((x, size), char, fill=255, font=font, anchor="lm")
            x += advance
    else:
        left, top, right, bottom = font.getbbox(text)
        canvas = Image.new("L", (right - left + 2, bottom - top + 2))
        ImageDraw.Draw(canvas).text((1 - left, 1 - top), text, fill=255, font=font)
    box = canvas.getbbox()
    if box is None:
        raise ValueError(f"font {face.name} draws nothing for {text!r}")
    return canvas.crop(box)


def relative_luminance(rgb: np.ndarray) -> float:
    """WCAG relative luminance of an sRGB colour given as three 0–255 values."""
    channel = np.asarray(rgb, dtype=np.float64) / 255.0
    linear = np.where(channel <= 0.04045, channel / 12.92, ((channel + 0.055) / 1.055) ** 2.4)
    return float(linear @ np.array([0.2126, 0.7152, 0.0722]))


def contrast_ratio(first: np.ndarray, second: np.ndarray) -> float:
    high, low = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def _colours(rng: np.random.Generator, count: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """A text colour and `count` background colours, each at least MIN_CONTRAST from the text."""
    while True:
        text = rng.integers(0, 256, 3)
        backgrounds = [rng.integers(0, 256, 3) for _ in range(count)]
        if all(contrast_ratio(text, bg) >= MIN_CONTRAST for bg in backgrounds):
            return text, backgrounds


def _background(
    kind: str, colours: list[np.ndarray], shape: tuple[int, int], rng: np.random.Generator
) -> np.ndarray:
    height, width = shape
    if kind == "gradient":
        angle = rng.uniform(0, 2 * math.pi)
        ys, xs = np.mgrid[0:height, 0:width]
        along = xs * math.cos(angle) + ys * math.sin(angle)
        t = (along - along.min()) / max(float(np.ptp(along)), 1.0)
        return colours[0] * (1 - t[..., None]) + colours[1] * t[..., None]
    image = np.broadcast_to(colours[0].astype(np.float64), (height, width, 3))
    if kind == "noisy":
        image = image + rng.normal(0, rng.uniform(4, 20), (height, width, 1))
    return image


def _with_margins(
    mask: Image.Image, size: int, vertical: bool, rng: np.random.Generator, scale: float = 1.0
) -> Image.Image:
    """Pad with random margins: wider along the line (0.05–0.5 em) than across it (0.05–0.3)."""
    along = [int(size * scale * rng.uniform(0.05, 0.5)) for _ in range(2)]
    across = [int(size * scale * rng.uniform(0.05, 0.3)) for _ in range(2)]
    (left, right), (top, bottom) = (across, along) if vertical else (along, across)
    framed = Image.new("L", (mask.width + left + right, mask.height + top + bottom))
    framed.paste(mask, (left, top))
    return framed


def _degrade(image: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    if rng.random() < BLUR_PROBABILITY:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.2, 0.8) * size / 32))
    if rng.random() < JPEG_PROBABILITY:
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=int(rng.integers(30, 91)))
        image = Image.open(buffer).convert("RGB")
    return image


def render_text_image(
    text: str,
    face: FontFace,
    vertical: bool,
    rng: np.random.Generator,
    min_height: int = 16,
    max_height: int = 64,
    plain: bool = False,
    signs: bool = False,
    varied: bool = False,
) -> Image.Image:
    """An RGB crop of `text`; the font size (text height in px) is drawn from the given range.

    `plain`: black on white, upright and sharp (one look per font, e.g. for a drawer to learn).
    `signs`: what photographed signs show (`sign_effects`); without it the random draws, and so
    the images of a seed, are those of an ordinary render.
    `varied`: the glyphs drawn bolder or lighter, narrower or wider, slanted or warped
    (`glyph_variation`), as another face would draw them.
    """
    size = int(rng.integers(min_height, max_height + 1))
    tracking = sign_effects.letter_spacing(rng) if signs else 0.0
    mask = text_mask(text, face, size, vertical, tracking)
    if varied:
        mask = glyph_variation.varied(mask, size, vertical, rng)
    if plain:
        mask = ImageOps.invert(_with_margins(mask, size, vertical, rng))
        return Image.merge("RGB", (mask, mask, mask))
    if rng.random() < ROTATION_PROBABILITY:
        angle = rng.uniform(-MAX_ROTATION_DEGREES, MAX_ROTATION_DEGREES)
        mask = mask.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True)
    scale = sign_effects.loose_margins(rng) if signs else 1.0
    mask = _with_margins(mask, size, vertical, rng, scale)
    kind = BACKGROUNDS[rng.integers(len(BACKGROUNDS))]
    text_colour, background_colours = _colours(rng, 2 if kind == "gradient" else 1)
    background = _background(kind, background_colours, (mask.height, mask.width), rng)
    if signs:
        background = sign_effects.textured(background, rng)
        decoration = sign_effects.decoration_mask(mask, size, rng)
        if decoration is not None:  # in a colour of its own, or the text's opposite
            colour = rng.integers(0, 256, 3) if rng.random() < 0.5 else 255 - text_colour
            background = background * (1 - decoration[..., None]) + colour * decoration[..., None]
    alpha = np.asarray(mask, dtype=np.float64)[..., None] / 255.0
    pixels = background * (1 - alpha) + text_colour * alpha
    if signs:
        pixels = sign_effects.lit(pixels, rng)
    image = Image.fromarray(np.clip(pixels + 0.5, 0, 255).astype(np.uint8), "RGB")
    if signs:
        image = sign_effects.photographed(image, size, vertical, rng)
    return _degrade(image, size, rng)
