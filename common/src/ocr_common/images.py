"""The one image loader: every command that reads image files (predict, evaluate, VQVAE training
and tokenising, AIHub crops, InverseDalleOCR) opens them here, so all see the same pixels.

An image is read as 8-bit RGB the way it is meant to be seen: EXIF orientation applied, 16-bit and
32-bit grey scaled down (not clipped to white), transparency composited on white paper (not on
the black that dropping the alpha channel would show). Anything that does not decode, a
decompression bomb, a FIFO or a device file raises `UnreadableImage`, which callers count.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ocr_common.errors import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
# EXIF orientations 5–8 turn the picture a quarter: width and height swap.
_QUARTER_TURNS = {5, 6, 7, 8}
_EXIF_ORIENTATION = 0x0112
PAPER = (255, 255, 255)


class UnreadableImage(UserError):
    """An image file that cannot be read; batch readers count it, single reads report it."""


def is_image_file(path: Path) -> bool:
    """A visible regular file with an image suffix: `._x.png` (macOS archive metadata), FIFOs
    and folders named like images are not images."""
    return (
        path.suffix.lower() in IMAGE_SUFFIXES
        and not path.name.startswith(".")
        and path.is_file()  # follows links; a FIFO or device is not a file
    )


def list_images(folder: Path) -> list[Path]:
    """Every image file under `folder`, sorted; nothing under a hidden folder."""
    return sorted(
        path
        for path in folder.rglob("*")
        if is_image_file(path)
        and not any(part.startswith(".") for part in path.relative_to(folder).parts)
    )


def _check_regular(path: Path) -> None:
    try:
        mode = path.stat().st_mode
    except OSError as error:
        raise UnreadableImage(f"{path}: cannot read image ({error.strerror or error})") from None
    if not stat.S_ISREG(mode):  # opening a FIFO would wait forever for a writer
        raise UnreadableImage(f"{path}: not a regular file")


def _open(path: str | os.PathLike) -> Image.Image:
    path = Path(path)
    _check_regular(path)
    try:
        return Image.open(path)
    except Image.DecompressionBombError:
        raise UnreadableImage(f"{path}: over Pillow's decompression-bomb pixel limit") from None
    # Pillow's decoders raise many exception types on hostile bytes (OSError, ValueError,
    # SyntaxError, struct.error, …): all of them mean "not an image we can read".
    except Exception as error:
        raise UnreadableImage(f"{path}: cannot read image ({type(error).__name__})") from None


def _to_8bit(image: Image.Image) -> Image.Image:
    """16-bit, 32-bit integer and float grey images scaled to 0–255 (convert() would clip)."""
    pixels = np.asarray(image, dtype=np.float64)
    high = float(pixels.max(initial=0.0))
    if image.mode == "F" and high <= 1.0:
        scale = 1.0  # floats in [0, 1]
    elif high <= 255:
        scale = 255.0
    elif high <= 65535:
        scale = 65535.0
    else:
        scale = high
    grey = np.clip(np.nan_to_num(pixels) / scale * 255.0, 0, 255).round().astype(np.uint8)
    return Image.fromarray(grey, "L")


def _orientation(image: Image.Image) -> int:
    try:
        return int(image.getexif().get(_EXIF_ORIENTATION, 1))
    except Exception:  # a damaged EXIF block is no orientation
        return 1


def to_rgb(image: Image.Image) -> Image.Image:
    """An opened image as 8-bit RGB: EXIF-rotated, deep grey scaled, transparency on white."""
    if _orientation(image) != 1:  # exif_transpose would copy even an upright image
        image = ImageOps.exif_transpose(image)
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit(image)
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = image.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (*PAPER, 255))
        return Image.alpha_composite(paper, rgba).convert("RGB")
    return image if image.mode == "RGB" else image.convert("RGB")


def load_image(source: Image.Image | str | os.PathLike) -> Image.Image:
    """An image file (or an already opened image) as 8-bit RGB, fully decoded: a truncated file
    fails here, not later. Raises UnreadableImage."""
    if isinstance(source, Image.Image):
        return to_rgb(source)
    with _open(source) as image:
        try:
            image.load()
            return to_rgb(image)
        except Exception as error:  # see _open: decoders fail in many ways
            raise UnreadableImage(f"{source}: cannot read image ({type(error).__name__})") from None


def image_size(path: str | os.PathLike) -> tuple[int, int]:
    """(width, height) as `load_image` will return it, from the header only (EXIF orientation
    5–8 swaps them). Raises UnreadableImage."""
    with _open(path) as image:
        width, height = image.size
        turned = _orientation(image) in _QUARTER_TURNS
    return (height, width) if turned else (width, height)
