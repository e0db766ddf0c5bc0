"""Image loading and the pixel side of a template: resize, pad, normalise, and back."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
from PIL import Image, ImageOps

from vqvae.shapes import Placement, place

# Pixels in [0, 255] map to [-1, 1]; padding is black (-1) so it is never mistaken for paper.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.5
PAD_VALUE = -1.0


def load_rgb(path: str | os.PathLike) -> Image.Image:
    """Open an image fully (so a truncated file fails here, not later) as RGB, EXIF-rotated."""
    with Image.open(path) as image:
        image.load()
        return ImageOps.exif_transpose(image).convert("RGB")


def read_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) from the header only; raises OSError for unreadable files."""
    with Image.open(path) as image:
        return image.size


def to_template_tensor(
    image: Image.Image, template: tuple[int, int], downsample: int
) -> tuple[torch.Tensor, Placement]:
    """(3, rows·p, cols·p) tensor in [-1, 1]: the image resized into the top-left, padding after."""
    placement = place(image.width, image.height, template, downsample)
    resized = image.resize((placement.width, placement.height), Image.Resampling.BICUBIC)
    pixels = torch.from_numpy(np.asarray(resized, dtype=np.float32) / 255.0).permute(2, 0, 1)
    rows, cols = template
    canvas = torch.full((3, rows * downsample, cols * downsample), PAD_VALUE)
    canvas[:, : placement.height, : placement.width] = (pixels - PIXEL_MEAN) / PIXEL_STD
    return canvas, placement


def to_pil(tensor: torch.Tensor) -> Image.Image:
    """A (3, H, W) tensor in [-1, 1] as an RGB image."""
    pixels = (tensor.detach().float().cpu() * PIXEL_STD + PIXEL_MEAN).clamp(0, 1)
    return Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))


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
