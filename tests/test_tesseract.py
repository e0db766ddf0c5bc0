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


def test_score_tesseract_scores_a_table_like_our_reader(tmp_path: Path) -> None:
    """benchmarks/score_tesseract.py: its scores are those of its own readings, per orientation."""
    import json
    import subprocess
    import sys

    from ocr_common.metrics import score_by_group

    render("약국", tmp_path / "a.png")
    render("주차장", tmp_path / "b.png", vertical=True)
    (tmp_path / "t.csv").write_text(
        "img_path,text,orientation\na.png,약국,horizontal\nb.png,주차장,vertical\n"
    )
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "score_tesseract.py"
    output = tmp_path / "scores.json"
    subprocess.run(
        [sys.executable, script, tmp_path / "t.csv", "--output", output], check=True, text=True
    )
    report = json.loads(output.read_text())
    expected = score_by_group(report["readings"], ["약국", "주차장"], ["horizontal", "vertical"])
    assert report["scores"] == {group: s.as_dict() for group, s in expected.items()}
    assert report["scores"]["horizontal"]["count"] == 1
    assert report["readings"][0] == "약국"  # clean Nanum Gothic at 48 px
