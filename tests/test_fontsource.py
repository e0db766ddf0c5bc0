"""Fontsource's per-range woff2 subsets merge back into one font that draws all of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocr_common.fonts import TRAIN, draws_text, faces_in_file, fonts_by_split
from ocr_common.fontsource import merge_subsets, merged_weights

pytest.importorskip("brotli")  # woff2


def _subset(source: str, text: str, output: Path) -> None:
    from fontTools import subset

    options = subset.Options()
    options.flavor = "woff2"
    font = subset.load_font(source, options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    subset.save_font(font, str(output), options)


def test_subsets_of_one_weight_merge_into_a_font_that_draws_every_range(tmp_path: Path) -> None:
    faces = [f for f in fonts_by_split()[TRAIN] if f.path.endswith(".ttf")]
    if not faces:
        pytest.skip("no .ttf Korean training font installed")
    files = tmp_path / "package" / "files"
    files.mkdir(parents=True)
    _subset(faces[0].path, "가나다", files / "demo-0-400-normal.woff2")
    _subset(faces[0].path, "한글AB", files / "demo-1-400-normal.woff2")
    _subset(faces[0].path, "가", files / "demo-0-300-normal.woff2")
    chosen = merged_weights(tmp_path / "package")
    assert list(chosen) == ["400"]  # 400 and 700 are installed where present, not 300
    assert [p.name for p in chosen["400"]] == ["demo-0-400-normal.woff2", "demo-1-400-normal.woff2"]

    merged = tmp_path / "demo-400.ttf"
    merge_subsets(chosen["400"], merged)
    (face,) = faces_in_file(merged)
    assert draws_text(face, "가나다한글AB")
    assert not draws_text(face, "국")  # in neither subset


def test_ready_made_packages_copy_their_listed_cuts_once(tmp_path: Path, monkeypatch) -> None:
    from ocr_common import fontsource

    faces = [f for f in fonts_by_split()[TRAIN] if f.path.endswith(".ttf")]
    if not faces:
        pytest.skip("no .ttf Korean training font installed")
    package = tmp_path / "package"
    (package / "dist").mkdir(parents=True)
    for name in ("Demo-Regular.ttf", "Demo-Bold.ttf", "Demo-Thin.ttf"):
        (package / "dist" / name).write_bytes(Path(faces[0].path).read_bytes())
    unpacked = []
    monkeypatch.setattr(
        fontsource, "_unpack", lambda name, scratch: unpacked.append(name) or package
    )
    monkeypatch.setattr(
        fontsource.shutil, "which", lambda tool: "/usr/bin/npm" if tool == "npm" else None
    )
    wanted = {"demo": ("dist/Demo-Regular.ttf", "dist/Demo-Bold.ttf")}
    dest = tmp_path / "fonts"

    assert fontsource.install((), wanted, dest) == 0
    assert sorted(p.name for p in dest.iterdir()) == ["demo-Demo-Bold.ttf", "demo-Demo-Regular.ttf"]
    (face, *_) = faces_in_file(dest / "demo-Demo-Regular.ttf")
    assert draws_text(face, "가나다")
    assert fontsource.install((), wanted, dest) == 0
    assert unpacked == ["demo"]  # installed once, then found
