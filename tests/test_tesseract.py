"""Tesseract as a batch reader: one process, texts back in order, per orientation."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

from ocr_common.errors import UserError
from ocr_common.tesseract import read_by_orientation, read_images, tesseract_available

FONT = Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf")

pytestmark = pytest.mark.skipif(
    not (tesseract_available() and FONT.is_file()), reason="needs tesseract and Nanum fonts"
)


def render(text: str, path: Path, vertical: bool = False) -> Path:
    font = ImageFont.truetype(str(FONT), 48)
    if vertical:
        image = Image.new("RGB", (90, 70 * len(text) + 40), "white")
        draw = ImageDraw.Draw(image)
        for i, char in enumerate(text):
            draw.text((20, 20 + 70 * i), char, font=font, fill="black")
    else:
        image = Image.new("RGB", (60 * len(text) + 60, 90), "white")
        ImageDraw.Draw(image).text((30, 15), text, font=font, fill="black")
    image.save(path)
    return path


def test_reads_many_images_in_order(tmp_path: Path) -> None:
    words = ["사랑", "약국", "한국어"]
    paths = [render(word, tmp_path / f"{i}.png") for i, word in enumerate(words)]
    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 80), "white").save(blank)
    texts = read_images([blank, *paths])  # an empty page must not shift the texts after it
    assert len(texts) == 4
    assert texts[1:] == words


def test_orientations_are_read_with_their_own_settings(tmp_path: Path) -> None:
    paths = [render("사랑", tmp_path / "h.png"), render("약국", tmp_path / "v.png", vertical=True)]
    texts = read_by_orientation(paths, ["horizontal", "vertical"])
    assert texts[0] == "사랑"
    assert len(texts) == 2  # vertical reading quality varies; order and count must hold


def test_unknown_orientation_is_a_user_error() -> None:
    with pytest.raises(UserError, match="orientation"):
        read_images(["x.png"], "diagonal")
