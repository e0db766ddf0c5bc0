"""Tesseract 5 as an independent reader: many images in ONE process via a list file.

Horizontal lines use `kor --psm 7` (a single text line); vertical ones `kor_vert --psm 5`
(a single uniform block of vertically aligned text). Pages in the output are separated by a
form feed, one page per listed image, so texts map back to images by position.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from ocr_common.errors import UserError
from ocr_common.metrics import score_by_group
from ocr_common.tables import read_table, resolve_image_paths

SETTINGS = {"horizontal": ("kor", "7"), "vertical": ("kor_vert", "5")}
PAGE_SEPARATOR = "\f"


def tesseract_available() -> bool:
    return shutil.which("tesseract") is not None


def read_images(
    paths: Sequence[str | os.PathLike], orientation: str = "horizontal", timeout: float = 3600
) -> list[str]:
    """Texts Tesseract reads in `paths` (same order), NFC, whitespace-trimmed; '' where none."""
    if orientation not in SETTINGS:
        raise UserError(f"orientation must be one of {sorted(SETTINGS)}, not '{orientation}'")
    if not paths:
        return []
    if not tesseract_available():
        raise UserError("tesseract not found: install tesseract-ocr with tesseract-ocr-kor")
    language, psm = SETTINGS[orientation]
    with tempfile.TemporaryDirectory() as folder:
        list_file = Path(folder) / "images.txt"
        list_file.write_text("".join(f"{Path(p).resolve()}\n" for p in paths), encoding="utf-8")
        command = [
            "tesseract",
            str(list_file),
            "stdout",
            "-l",
            language,
            "--psm",
            psm,
            "-c",
            f"page_separator={PAGE_SEPARATOR}",
        ]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # one thread: we share the cores
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"tesseract failed ({last})")
    pages = result.stdout.split(PAGE_SEPARATOR)
    if len(pages) < len(paths):
        raise UserError(f"tesseract returned {len(pages)} pages for {len(paths)} images")
    # A vertical crop is one column: Tesseract splits it into "lines" at arbitrary syllables.
    joiner = "" if orientation == "vertical" else " "
    return [joiner.join(unicodedata.normalize("NFC", page).split()) for page in pages[: len(paths)]]


def read_by_orientation(
    paths: Sequence[str | os.PathLike], orientations: Sequence[str]
) -> list[str]:
    """One Tesseract run per orientation; texts returned in the order of `paths`."""
    texts = [""] * len(paths)
    for orientation in sorted(set(orientations)):
        positions = [i for i, o in enumerate(orientations) if o == orientation]
        for position, text in zip(
            positions, read_images([paths[i] for i in positions], orientation), strict=False
        ):
            texts[position] = text
    return texts


def score_table(table_path: str | os.PathLike) -> dict:
    """Tesseract on a dataset table (img_path,text[,orientation]), scored like our reader:
    {"texts", "scores" (group → Scores, overall and per orientation), "images_per_second"}."""
    rows = read_table(table_path)
    orientations = [str(o) for o in rows.get("orientation", ["horizontal"] * len(rows))]
    start = time.perf_counter()
    texts = read_by_orientation(resolve_image_paths(rows, table_path), orientations)
    seconds = max(time.perf_counter() - start, 1e-9)
    return {
        "texts": texts,
        "scores": score_by_group(texts, [str(t) for t in rows["text"]], orientations),
        "images_per_second": round(len(rows) / seconds, 1),
    }


class PageLine(NamedTuple):
    """A text line Tesseract's layout analysis found: its box in pixels and what it read there."""

    x: int
    y: int
    w: int
    h: int
    text: str


def read_page_lines(
    path: str | os.PathLike, language: str = "kor", thresholding: int = 0, timeout: float = 600
) -> list[PageLine]:
    """Tesseract's full-page mode (`--psm 3`, layout analysis) on one image: every line with at
    least one word, in reading order. `thresholding` is Tesseract 5's binarisation (0 Otsu,
    1 adaptive Otsu, 2 Sauvola)."""
    if not tesseract_available():
        raise UserError("tesseract not found: install tesseract-ocr with tesseract-ocr-kor")
    command = ["tesseract", str(path), "stdout", "-l", language, "--psm", "3"]
    command += ["-c", f"thresholding_method={thresholding}", "tsv"]
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=env)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise UserError(f"tesseract failed on {path} ({last})")
    boxes: dict[tuple[str, ...], tuple[int, int, int, int]] = {}
    words: dict[tuple[str, ...], list[str]] = {}
    for row in result.stdout.splitlines()[1:]:
        fields = row.split("\t")
        if len(fields) < 12:
            continue
        key = tuple(fields[1:5])  # page, block, paragraph, line
        if fields[0] == "4":  # a line's box
            boxes[key] = tuple(int(v) for v in fields[6:10])  # type: ignore[assignment]
        elif fields[0] == "5" and fields[11].strip():  # a word with text
            words.setdefault(key, []).append(unicodedata.normalize("NFC", fields[11].strip()))
    return [PageLine(*boxes[key], " ".join(found)) for key, found in words.items() if key in boxes]
