"""The pixel side of a template: resize, pad, normalise, and back."""

from __future__ import annotations

import math
import random

import numpy as np
import torch
from PIL import Image

from vqvae.shapes import Placement, place

# Pixels in [0, 255] map to [-1, 1]; padding is black (-1) so it is never mistaken for paper.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.5
PAD_VALUE = -1.0


def ink_on_paper(image: Image.Image) -> np.ndarray:
    """(H, W) grey levels in [0, 1]: contrast stretched, dark ink on light paper, any colours.

    Colour says nothing about which syllable is written: without it a small codebook spends its
    codes on shapes instead of on every colour pair. The paper is the side the border pixels are
    on (text crops have margins), so light-on-dark text is inverted.
    """
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    low, high = np.percentile(grey, (2, 98))
    grey = np.clip((grey - low) / max(high - low, 1.0), 0.0, 1.0)
    border = np.concatenate([grey[0], grey[-1], grey[:, 0], grey[:, -1]])
    return 1.0 - grey if np.median(border) < 0.5 else grey


def to_template_tensor(
    image: Image.Image, template: tuple[int, int], downsample: int, channels: int = 3
) -> tuple[torch.Tensor, Placement]:
    """(channels, rows·p, cols·p) tensor in [-1, 1]: the image resized into the top-left, padding
    after. One channel is `ink_on_paper`; three are the RGB colours."""
    placement = place(image.width, image.height, template, downsample)
    resized = image.resize((placement.width, placement.height), Image.Resampling.BICUBIC)
    if channels == 1:
        pixels = torch.from_numpy(ink_on_paper(resized))[None]
    else:
        pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)
    rows, cols = template
    canvas = torch.full((channels, rows * downsample, cols * downsample), PAD_VALUE)
    canvas[:, : placement.height, : placement.width] = (pixels - PIXEL_MEAN) / PIXEL_STD
    return canvas, placement


def trim_padding(image: Image.Image, dark: float = 0.25, share: float = 0.9) -> Image.Image:
    """A decoded ink-on-paper image without the black padding along its right and bottom edges.

    A template pads an image to whole tokens with black, which paper never is, so a model that
    learned from such grids also draws that black strip; it is not part of the picture. Pixel
    columns (from the right) and rows (from the bottom) where at least `share` of the pixels are
    darker than `dark` are cut, up to the first that is not; at least one pixel remains.
    """
    grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    is_dark = grey < dark
    width, height = image.size
    while width > 1 and is_dark[:height, width - 1].mean() >= share:
        width -= 1
    while height > 1 and is_dark[height - 1, :width].mean() >= share:
        height -= 1
    return image.crop((0, 0, width, height))


def psnr(mse: float) -> float:
    """PSNR in dB for images in [0, 1], from the MSE measured on the normalised pixels (range
    1 / PIXEL_STD = 2, so a peak power of 4)."""
    return 10 * math.log10((1.0 / PIXEL_STD) ** 2 / max(mse, 1e-12))


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """A (3, H, W) or (1, H, W) tensor in [-1, 1] as an RGB image."""
    pixels = (tensor.detach().float().cpu() * PIXEL_STD + PIXEL_MEAN).clamp(0, 1)
    pixels = pixels.expand(3, -1, -1)  # grey levels drawn as RGB, like every other image
    return Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


def augmented_view(image: Image.Image, view: int) -> Image.Image:
    """View `view` of an image for test-time augmentation: 0 is the image itself, every other
    number a jitter seeded by that number alone, so a view never depends on the other images."""
    return jitter(image, random.Random(view)) if view else image


def jitter(image: Image.Image, rng: random.Random) -> Image.Image:
    """A test-time augmentation: crop up to 4% per side, brightness and contrast within ±10%."""
    width, height = image.size
    left, right = (round(rng.uniform(0, 0.04) * width) for _ in range(2))
    top, bottom = (round(rng.uniform(0, 0.04) * height) for _ in range(2))
    image = image.crop((left, top, max(left + 1, width - right), max(top + 1, height - bottom)))
    pixels = np.asarray(image, dtype=np.float32)
    mean = pixels.mean()
    pixels = (pixels - mean) * rng.uniform(0.9, 1.1) + mean * rng.uniform(0.9, 1.1)
    return Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
