"""Cut the annotated boxes out of one image and save them as PNG crops (runs in a worker)."""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ocr_common.aihub.labels import Annotation
from ocr_common.atomic import atomic_path
from ocr_common.images import UnreadableImage, load_image

# The labels do not say the reading direction. Two stacked syllables are already about 2:1 tall
# (the seed's real vertical signs measure 1.5–3.9 height/width, its horizontal ones 0.24–0.5);
# a near-square crop (one syllable, no direction to speak of) stays horizontal.
VERTICAL_ASPECT = 1.2

_UNSAFE = re.compile(r"[^\w.-]+")  # \w keeps Hangul; spaces, brackets and slashes go


@dataclass(frozen=True)
class CropJob:
    image_path: Path
    relative_path: str  # the image's path under IMAGE_DIR (NFC, '/'): names its crops
    source: str  # the label file, relative to JSON_DIR
    annotations: tuple[Annotation, ...]


def _sanitise(text: str, max_bytes: int = 80) -> str:
    """File-name-safe `text`; one too long for a name (255 bytes) is cut and keeps a hash of the
    whole, so two long ids stay apart."""
    safe = _UNSAFE.sub("_", text).strip("._") or "_"
    if len(safe.encode("utf-8")) <= max_bytes:
        return safe
    digest = hashlib.sha1(safe.encode("utf-8")).hexdigest()[:8]
    cut = safe.encode("utf-8")[: max_bytes - 9].decode("utf-8", errors="ignore")
    return f"{cut}~{digest}"


def crop_name(relative_path: str, annotation_id: str) -> str:
    """`<image stem>-<hash of its relative path>-<annotation id>.png`, the same on every run.

    The hash keeps two images apart whose names sanitise alike (`a b.jpg`, `a_b.jpg`, `x/a.jpg`).
    """
    digest = hashlib.sha1(relative_path.encode("utf-8")).hexdigest()[:8]
    stem = _sanitise(Path(relative_path).stem)
    return f"{stem}-{digest}-{_sanitise(annotation_id)}.png"


def clip_box(
    box: tuple[float, float, float, float], width: int, height: int
) -> tuple[int, int, int, int] | None:
    """Pixel box (left, top, right, bottom) covering `box` inside the image, or None if none is."""
    x, y, w, h = box
    left, top = max(0, math.floor(x)), max(0, math.floor(y))
    right, bottom = min(width, math.ceil(x + w)), min(height, math.ceil(y + h))
    return (left, top, right, bottom) if right > left and bottom > top else None


def orientation(width: int, height: int) -> str:
    return "vertical" if height > width * VERTICAL_ASPECT else "horizontal"


def crop_image(job: CropJob, output_dir: Path) -> tuple[list[dict[str, str]], Counter]:
    """Rows `{crop, text, orientation, source}` for the kept crops, and the skips by reason."""
    skipped: Counter = Counter()
    try:
        image = load_image(job.image_path)  # boxes are on the upright (EXIF-rotated) image
    except UnreadableImage:
        skipped["unreadable_image"] += len(job.annotations)
        return [], skipped
    rows = []
    for annotation in job.annotations:
        box = clip_box(annotation.box, image.width, image.height)
        if box is None:
            skipped["box_outside"] += 1
            continue
        crop = image.crop(box)
        name = crop_name(job.relative_path, annotation.id)
        with atomic_path(output_dir / name) as tmp:  # a killed run leaves no half-written crop
            crop.save(tmp, format="PNG", compress_level=1)
        rows.append(
            {
                "crop": name,
                "text": annotation.text,
                "orientation": orientation(crop.width, crop.height),
                "source": job.source,
            }
        )
    return rows, skipped
