"""Read one AIHub OCR label file: its images and the annotations worth cropping.

A label file is JSON with `images: [{id, file_name, width, height}]` and
`annotations: [{id, image_id, bbox: [x, y, w, h], text}]`; AIHub writes "xxx" for illegible text.
"""

from __future__ import annotations

import json
import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ILLEGIBLE = "xxx"
MAX_COORDINATE = 1e9

# Every skipped annotation is counted once, under the first reason that applies, in this order.
SKIP_REASONS = (
    "unknown_image",  # its image_id is not among the file's images
    "empty_text",  # missing, not a string, or only white space
    "illegible",  # the text contains "xxx" (wholly or partly unreadable)
    "bad_box",  # null, not four numbers under 10⁹ in size, or zero/negative width or height
    "unsafe_path",  # file_name is absolute or contains "..": it would escape IMAGE_DIR
    "missing_image",
    "ambiguous_image",  # found only by its bare name, which several files under IMAGE_DIR have
    "duplicate",  # the same annotation id of the same image was seen before
    "unreadable_image",  # the image file does not decode
    "box_outside",  # no pixel of the box lies inside the image
)


class MalformedLabels(ValueError):
    """A label file that is not JSON or not shaped like AIHub's; the whole file is skipped."""


@dataclass(frozen=True)
class Annotation:
    id: str
    text: str  # NFC, runs of white space collapsed to one space
    box: tuple[float, float, float, float]  # x, y, width, height in pixels


@dataclass(frozen=True)
class LabelledImage:
    file_name: object  # as written in the label file; checked when the image is located
    annotations: tuple[Annotation, ...]


def normalise_text(value: object) -> str:
    if not isinstance(value, str):
        return ""
    return " ".join(unicodedata.normalize("NFC", value).split())


def parse_box(value: object) -> tuple[float, float, float, float] | None:
    """`[x, y, w, h]` as floats, or None when it cannot describe a non-empty box."""
    if not isinstance(value, list | tuple) or len(value) != 4:
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    try:
        x, y, w, h = (float(v) for v in value)
    except OverflowError:  # an integer like 10**400
        return None
    # No photo is a billion pixels wide; beyond that x + w could overflow to inf when clipped.
    if not all(abs(v) < MAX_COORDINATE for v in (x, y, w, h)) or w <= 0 or h <= 0:
        return None
    return x, y, w, h


def _load(path: Path) -> tuple[list[dict], list[dict]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))  # some exports start with a BOM
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedLabels(f"not readable JSON ({error})") from None
    except RecursionError:
        raise MalformedLabels("not readable JSON (nested too deeply)") from None
    images = data.get("images") if isinstance(data, dict) else None
    annotations = data.get("annotations") if isinstance(data, dict) else None
    if not isinstance(images, list) or not isinstance(annotations, list):
        raise MalformedLabels("expected the lists 'images' and 'annotations'")
    if not all(isinstance(entry, dict) for entry in images + annotations):
        raise MalformedLabels("an entry of 'images' or 'annotations' is not an object")
    return images, annotations


def _skip_reason(entry: dict, known_images: dict[str, object]) -> str | None:
    if str(entry.get("image_id")) not in known_images:
        return "unknown_image"
    text = normalise_text(entry.get("text"))
    if not text:
        return "empty_text"
    if ILLEGIBLE in text:
        return "illegible"
    if parse_box(entry.get("bbox")) is None:
        return "bad_box"
    return None


def read_label_file(path: Path, skipped: Counter) -> list[LabelledImage]:
    """The file's images with their usable annotations; unusable ones are counted in `skipped`.

    Raises MalformedLabels before counting anything, so a bad file leaves `skipped` untouched.
    """
    images, annotations = _load(path)
    known_images = {str(image.get("id")): image.get("file_name") for image in images}
    kept: dict[str, list[Annotation]] = {image_id: [] for image_id in known_images}
    for index, entry in enumerate(annotations):
        reason = _skip_reason(entry, known_images)
        if reason:
            skipped[reason] += 1
            continue
        # An annotation without an id is named by its position, stable for an unchanged file.
        annotation_id = entry.get("id")
        kept[str(entry["image_id"])].append(
            Annotation(
                id=f"n{index}" if annotation_id is None else str(annotation_id),
                text=normalise_text(entry["text"]),
                box=parse_box(entry["bbox"]),  # type: ignore[arg-type]  # checked above
            )
        )
    return [
        LabelledImage(known_images[image_id], tuple(found))
        for image_id, found in kept.items()
        if found
    ]
