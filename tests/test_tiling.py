"""Reading long lines tile by tile (`--tiles`, tiling.py): where the tiles are cut, what they
propose, and that the reader keeps the candidate the line and its tiles find most likely."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inverse_dalle import InverseDalleOCR
from inverse_dalle.cli import read
from inverse_dalle.tiling import (
    MAX_CANDIDATES,
    OVERLAP,
    SURE,
    TILE_LENGTH,
    align,
    candidates,
    tile_boxes,
)
from ocr_common.errors import UserError
from vqvae.cli import tokenize

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"
# A held-out-font line (data/signs test split, Baekmuk Dotum) that the shipped reader misreads
# plainly (촬영 만드니다) and reads right with its tiles (촬영 만듭니다).
TILED_LINE = REPO / "tests" / "fixtures" / "tiles-mend-a-reading.png"

pytestmark = pytest.mark.usefixtures("one_thread")


def glyph_row(glyphs: int, height: int = 40, glyph: int = 10, gap: int = 6) -> Image.Image:
    """Black bars `glyph` pixels wide, `gap` white pixels apart, on white: narrow enough that a
    gap lies within SNAP of any point."""
    width = glyphs * (glyph + gap) + gap
    pixels = np.full((height, width), 255, np.uint8)
    for index in range(glyphs):
        left = gap + index * (glyph + gap)
        pixels[4:-4, left : left + glyph] = 0
    return Image.fromarray(pixels)


def test_a_line_up_to_a_tile_and_a_half_is_not_tiled() -> None:
    assert tile_boxes(Image.new("L", (int(40 * (TILE_LENGTH + 0.5)), 40))) == []
    assert tile_boxes(Image.new("L", (40, int(40 * (TILE_LENGTH + 0.5))))) == []


def test_tiles_overlap_cover_the_line_and_are_cut_between_glyphs() -> None:
    line = glyph_row(30)
    boxes = tile_boxes(line)
    assert len(boxes) > 2
    assert boxes[0][0] == 0 and boxes[-1][2] == line.width
    for (_, top, right, bottom), (left, *_rest) in itertools.pairwise(boxes):
        assert (top, bottom) == (0, line.height)
        assert right - left >= OVERLAP * line.height * 0.5  # neighbours share about a glyph
    ink = (np.asarray(line) == 0).any(axis=0)
    inner_cuts = [x for box in boxes for x in (box[0], box[2]) if 0 < x < line.width]
    assert inner_cuts and not any(ink[x] for x in inner_cuts)  # each cut falls in a gap
    assert all((box[2] - box[0]) / line.height < TILE_LENGTH + 0.5 for box in boxes)


def test_a_vertical_line_is_tiled_along_its_height() -> None:
    line = glyph_row(30).transpose(Image.Transpose.ROTATE_90)
    boxes = tile_boxes(line)
    assert len(boxes) > 1
    assert all((left, right) == (0, line.width) for left, _, right, _ in boxes)
    assert boxes[0][1] == 0 and boxes[-1][3] == line.height


def test_align_finds_the_tiles_span_and_its_substitutions() -> None:
    assert align("가나다라마", "나디라") == ((1, 4), [(2, "디")])
    # a misread head and the space the tile lost count in its span
    assert align("가나 다라", "X나다") == ((0, 4), [(0, "X")])  # "가나 다"
    assert align("가 나다", "가X나디") == ((0, 4), [(3, "디")])  # a space is never replaced
    assert align("가나다", "마바") == (None, [])
    assert align("가나", "다라") == (None, [])  # unanchored: no span, nothing proposed


def test_candidates_are_the_line_then_each_combination() -> None:
    assert candidates("가나다", []) == ["가나다"]
    assert candidates("가나다", [(0, "거"), (2, "디"), (0, "거")]) == [
        "가나다",
        "가나디",
        "거나다",
        "거나디",
    ]
    many = [(p, c) for p in range(6) for c in "XY"]  # 3^6 combinations: one at a time
    options = candidates("가나다라마바", many)
    assert options[0] == "가나다라마바" and len(options) == 13 and MAX_CANDIDATES < 3**6


def test_tiles_keep_what_the_line_and_its_tiles_find_most_likely() -> None:
    """The batched revision against a reference made of single calls: tile readings, then
    log P(candidate | line) + Σ log P(its span | tile) for each candidate."""
    images = [*sorted(EXAMPLES.glob("*.png")), TILED_LINE]
    plain = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    tiled = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tiles=True)
    revised = tiled.read_batch(images)
    changed = 0
    for path, (text, confidence), (line, line_confidence) in zip(
        images, revised, plain.read_batch(images), strict=True
    ):
        image = Image.open(path).convert("RGB")
        boxes = tile_boxes(image)
        if not boxes or line_confidence >= SURE:
            assert (text, confidence) == (line, line_confidence)
            continue
        grid = plain.tokenize_each([image])[0]
        aligned = [align(line, plain.read(image.crop(box))[0]) for box in boxes]
        options = candidates(line, [s for _, subs in aligned for s in subs])
        scores = [
            plain.log_likelihoods([grid], option)[0]
            + sum(
                plain.log_likelihoods(plain.tokenize_each([image.crop(box)]), option[a:b])[0]
                for (span, _), box in zip(aligned, boxes, strict=True)
                if span is not None
                for a, b in [span]
            )
            for option in options
        ]
        assert text == options[int(np.argmax(scores))]
        if text != line:
            changed += 1
            expected = np.exp(plain.log_likelihoods([grid], text)[0])
            assert confidence == pytest.approx(expected, rel=1e-4)
    assert changed  # the tiles do change some readings
    assert revised[-1][0] == "촬영 만듭니다"


def test_predict_tiles_reads_the_examples_at_least_as_well(tmp_path) -> None:
    truth = pd.read_csv(EXAMPLES / "labels.csv")
    right = {}
    for flags in ([], ["--tiles"]):
        output = tmp_path / f"readings{len(flags)}.csv"
        read([str(PRETRAINED), str(EXAMPLES), "--output", str(output), "--workers", "1", *flags])
        readings = pd.read_csv(output, keep_default_na=False).merge(truth, on="img_path")
        assert len(readings) == len(truth)
        right[bool(flags)] = int((readings["text_x"] == readings["text_y"]).sum())
    assert right[True] >= right[False] == 11  # as recorded; tiles keep every right reading


def test_tiles_need_image_files_not_a_token_table(tmp_path) -> None:
    table = tmp_path / "tokens.parquet"
    labels = str(EXAMPLES / "labels.csv")
    tokenize(
        [str(PRETRAINED / "vqvae"), "--dataset", labels, "--output", str(table), "--no-progress"]
    )
    with pytest.raises(UserError, match="tiles are cut from image files"):
        read([str(PRETRAINED), str(table), "--output", str(tmp_path / "r.csv"), "--tiles"])
