"""Reading long lines tile by tile (`--tiles`): more codes for each glyph of a long line.

A line's grid holds at most `max_visual_length` tokens (128), so the longer the line, the fewer
codes each glyph gets: about 6 × 6 in a 3-syllable line, 4 × 4 in an 8-syllable one. Tiles of the
line, overlapping pieces about TILE_LENGTH line heights long, are each read with the whole budget.
Their readings propose single-character substitutions of the line's reading; each candidate is
scored by log P(candidate | line) + Σ log P(the part of the candidate a tile covers | tile), a
product of experts over the line and its tiles, and the best one is kept. A tile alone does not
decide: its cut ends misread, and it loses the spaces at them; the line keeps the length and
layout of the reading, the tiles vote on the glyphs they see larger. Readings at least SURE are
left as they are: the tiles almost never change them.
"""

from __future__ import annotations

import difflib
import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from inverse_dalle.reading import candidate_log_likelihoods
from ocr_common.images import load_image

if TYPE_CHECKING:
    from inverse_dalle.line_reader import Grid, ImageInput
    from inverse_dalle.ocr import InverseDalleOCR

TILE_LENGTH = 2.2  # line heights; chosen on validation lines (2.7 read 1 point worse)
OVERLAP = 1.0  # line heights shared by neighbouring tiles: every glyph is whole in one of them
SNAP = 0.2  # line heights a cut may move to fall where there is least ink
MAX_CANDIDATES = 32  # substitution combinations scored per line
# Readings at least this confident are kept untiled: the tiles changed 1 of the 558 such validation
# readings (for the worse) and none of the 437 on held-out fonts.
SURE = 0.9

Box = tuple[int, int, int, int]  # left, top, right, bottom
Span = tuple[int, int]  # characters [start, end) of the line's reading that a tile covers


def tile_boxes(image: Image.Image) -> list[Box]:
    """Overlapping tiles along the line (rows of a vertical line, taller than wide), or none for
    a line no longer than a tile and a half."""
    vertical = image.height > image.width
    length, height = (image.height, image.width) if vertical else (image.width, image.height)
    if length <= (TILE_LENGTH + 0.5) * height:
        return []
    count = math.ceil((length / height - OVERLAP) / (TILE_LENGTH - OVERLAP))
    step = (length - OVERLAP * height) / count
    ink = _ink_profile(image, vertical)
    boxes = []
    for index in range(count):
        start = 0 if index == 0 else _least_ink(ink, index * step, SNAP * height)
        end = (
            length
            if index == count - 1
            else _least_ink(ink, (index + 1) * step + OVERLAP * height, SNAP * height)
        )
        boxes.append((0, start, image.width, end) if vertical else (start, 0, end, image.height))
    return boxes


def _ink_profile(image: Image.Image, vertical: bool) -> np.ndarray:
    """How far each column (each row of a vertical line) is from the background: the summed
    distance of its pixels from the image's median grey."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    return np.abs(grey - np.median(grey)).sum(axis=1 if vertical else 0)


def _least_ink(profile: np.ndarray, centre: float, slack: float) -> int:
    low = max(1, int(centre - slack))
    high = min(len(profile) - 1, int(centre + slack) + 1)
    return low + int(np.argmin(profile[low:high])) if high > low else int(centre)


def align(line: str, tile: str) -> tuple[Span | None, list[tuple[int, str]]]:
    """The span of `line` that `tile`'s reading covers (None when they share nothing) and the
    substitutions it proposes: (position in `line`, character) where the two readings align
    character for character and differ (spaces excluded: the tiles lose them at their cuts)."""
    matcher = difflib.SequenceMatcher(None, line, tile, autojunk=False)
    blocks = [block for block in matcher.get_matching_blocks() if block.size]
    if not blocks:  # nothing to anchor it: it would propose a whole other text
        return None, []
    substitutions = [
        (i1 + offset, tile[j1 + offset])
        for op, i1, i2, j1, j2 in matcher.get_opcodes()
        if op == "replace" and i2 - i1 == j2 - j1
        for offset in range(i2 - i1)
        if " " not in (line[i1 + offset], tile[j1 + offset])
    ]
    first, last = blocks[0], blocks[-1]
    start = first.a - first.b  # the tile's unmatched head lies before its first match
    end = last.a + last.size + (len(tile) - last.b - last.size)
    return (max(0, start), min(len(line), end)), substitutions


def candidates(line: str, substitutions: list[tuple[int, str]]) -> list[str]:
    """`line`, then its variants with any one proposed character at each position (every
    combination while there are at most MAX_CANDIDATES, else one substitution at a time)."""
    choices: dict[int, list[str]] = {}
    for position, character in substitutions:
        if character not in choices.setdefault(position, [line[position]]):
            choices[position].append(character)
    positions = sorted(choices)
    if math.prod(len(choices[p]) for p in positions) > MAX_CANDIDATES:
        singles = [(p, c) for p in positions for c in choices[p][1:]]
        return [line] + [line[:p] + c + line[p + 1 :] for p, c in singles]
    variants = []
    for picked in itertools.product(*(choices[p] for p in positions)):
        text = list(line)
        for position, character in zip(positions, picked, strict=True):
            text[position] = character
        variants.append("".join(text))
    return variants  # the first picks line's own character everywhere: `line` itself


def revise_by_tiles(
    ocr: InverseDalleOCR,
    images: Sequence[ImageInput],
    results: list[tuple[str, float, bool] | None],
    views: Sequence[list[Grid] | None],
    batch_size: int = 64,
) -> list[tuple[str, float, bool] | None]:
    """`results` (text, confidence, ended) of `images`, each unsure long line's reading replaced
    by the candidate with the largest log-likelihood over the line's views (their mean) and its
    tiles (their sum). A reading it changes gets the probability of its tokens under the line
    (their geometric mean over the views) as its confidence."""
    lines, crops = [], []  # the long lines' indices; their tiles' images
    for index, result in enumerate(results):
        if result is not None and result[0] and result[1] < SURE:
            loaded = load_image(images[index])
            boxes = tile_boxes(loaded)
            if boxes:
                lines.append(index)
                crops.append([loaded.crop(box) for box in boxes])
    flat = ocr.tokenize_each([tile for mine in crops for tile in mine], batch_size)
    tile_texts = iter(ocr.text(reading) for reading in ocr.read_grids(flat, batch_size))
    tile_grids = iter(flat)
    scored: list[tuple[list[list[int]], list[list[int]]]] = []  # (grid, its texts' ids)
    contests = []  # (line index, candidates, views scored, spans of the tiles scored)
    for index, mine in zip(lines, crops, strict=True):
        line = results[index][0]
        aligned = [(align(line, next(tile_texts)), next(tile_grids)) for _ in mine]
        proposed = [s for (_, substitutions), _ in aligned for s in substitutions]
        fitting = [
            (text, ids)
            for text in candidates(line, proposed)
            if len(ids := ocr.vocabulary.encode(text)) <= ocr.layout.max_text_length
        ]
        if len(fitting) < 2:
            continue
        options, encoded = [text for text, _ in fitting], [ids for _, ids in fitting]
        scored += [(grid, encoded) for grid in views[index]]
        spans = [(span, grid) for (span, _), grid in aligned if span is not None]
        for (start, end), grid in spans:
            scored.append((grid, [ocr.vocabulary.encode(t[start:end]) for t in options]))
        contests.append((index, options, len(views[index]), len(spans)))
    if not contests:
        return results
    values = iter(
        candidate_log_likelihoods(
            ocr.model, ocr.layout, [g for g, _ in scored], [t for _, t in scored], batch_size
        )
    )
    revised = list(results)
    for index, options, view_count, tile_count in contests:
        by_view = np.array([next(values) for _ in range(view_count)])
        by_tile = np.array([next(values) for _ in range(tile_count)]).reshape(-1, len(options))
        line_score = by_view.mean(axis=0)
        best = int(np.argmax(line_score + by_tile.sum(axis=0)))
        if best:  # options[0] is the reading itself
            ended = results[index][2]
            revised[index] = (options[best], float(np.exp(line_score[best])), ended)
    return revised
