"""Font discovery, the train / held-out split, and the pixel check for glyphs a font lacks."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_common.fonts import (
    HELDOUT,
    TRAIN,
    FontFace,
    discover_fonts,
    draws_char,
    draws_text,
    faces_in_file,
    fonts_by_split,
    split_of,
    summary,
)


def face_named(name: str) -> FontFace:
    faces = [face for face in discover_fonts() if face.name == name]
    if not faces:
        pytest.skip(f"font {name} is not installed")
    return faces[0]


@pytest.mark.parametrize(
    ("family", "expected"),
    [
        ("NanumGothic", TRAIN),
        ("Nanum Pen Script", TRAIN),
        ("Noto Sans CJK KR", TRAIN),
        ("Noto Serif CJK KR", TRAIN),
        ("Noto Sans Mono CJK KR", TRAIN),
        ("Noto Sans CJK JP", None),
        ("NanumBarunGothic YetHangul", None),
        ("UnBatang", HELDOUT),
        ("Baekmuk Dotum", HELDOUT),
        ("Unifont", None),
        ("Gaegu", TRAIN),  # a Fontsource family
        ("BM JUA_TTF", TRAIN),  # Debian fonts-woowa-bm
        # Every family but the held-out ones trains; a face without Hangul is then left out by
        # the pixel check of fonts_by_split (test below), not by its name.
        ("DejaVu Sans", TRAIN),
    ],
)
def test_families_split_into_training_and_held_out(family, expected):
    assert split_of(FontFace(family.replace(" ", ""), "x.ttf", 0, family, "Regular")) == expected


def test_machine_fonts_are_split_by_family_and_draw_hangul():
    split = fonts_by_split()
    if not split[TRAIN] or not split[HELDOUT]:
        pytest.skip("needs Nanum/Noto and Un/Baekmuk fonts (scripts/setup.sh installs them)")
    assert all(split_of(face) == TRAIN for face in split[TRAIN])
    assert all(split_of(face) == HELDOUT for face in split[HELDOUT])
    assert {face.name for face in split[TRAIN]}.isdisjoint(face.name for face in split[HELDOUT])
    assert all(draws_text(face, "한글") for group in split.values() for face in group)
    assert "training fonts:" in summary()


def test_blank_glyph_is_rejected():
    # Baekmuk Dotum maps 쏀 (a KS X 1001 syllable) but its outline is empty.
    face = face_named("Baekmuk-Dotum")
    assert not draws_char(face, "쏀")
    assert draws_char(face, "쏘")
    assert not draws_text(face, "쏀쏘")


def test_notdef_box_is_rejected():
    # NanumGothic has no Tibetan: FreeType draws its .notdef box, which has ink.
    face = face_named("NanumGothic")
    assert face.load(24).getmask("ཀ").getbbox() is not None
    assert not draws_char(face, "ཀ")
    assert draws_text(face, "가 A1")


def test_collection_faces_are_read_from_the_file():
    # The pip fallback font is a .ttc found without fontconfig: faces come from the file itself.
    face = next((f for f in discover_fonts() if f.family == "Noto Sans CJK KR"), None)
    if face is None or not face.path.endswith(".ttc"):
        pytest.skip("Noto Sans CJK .ttc is not installed")
    faces = faces_in_file(Path(face.path))
    korean = [f for f in faces if f.family == "Noto Sans CJK KR"]
    assert len(faces) > 1
    assert [f.index for f in korean] == [face.index]
    assert split_of(korean[0]) == TRAIN
