"""Glyph-shape variation of the synthetic training images: bolder, wider, slanted, warped ink."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocr_common.errors import UserError
from ocr_common.fonts import HELDOUT, TRAIN, fonts_by_split
from ocr_common.synthetic import glyph_variation, synthesize
from ocr_common.synthetic.render import text_mask


@pytest.fixture(scope="module")
def mask() -> Image.Image:
    faces = fonts_by_split()[TRAIN]
    if not faces:
        pytest.skip("no Korean training font installed")
    return text_mask("약국 주차장", faces[0], 40, vertical=False)


def _ink(image: Image.Image) -> float:
    return float(np.asarray(image, dtype=np.float64).sum() / 255.0)


def test_each_variation_changes_the_shape_it_names(mask: Image.Image) -> None:
    rng = np.random.default_rng(0)
    bolder = [glyph_variation._weighted(mask, 40, rng) for _ in range(20)]
    assert any(_ink(b) > 1.2 * _ink(mask) for b in bolder)  # grown ink
    assert any(_ink(b) < 0.9 * _ink(mask) for b in bolder)  # 40 px text may also thin
    for _ in range(10):
        wider = glyph_variation._widened(mask, rng)
        assert wider.height == mask.height
        assert 0.69 * mask.width <= wider.width <= 1.36 * mask.width
        slanted = glyph_variation._slanted(mask, rng)
        assert slanted.height == mask.height and slanted.width >= mask.width
        assert _ink(slanted) == pytest.approx(_ink(mask), rel=0.05)  # sheared, not lost
        warped = glyph_variation._warped(mask, 40, rng)
        assert warped.size == mask.size and warped.tobytes() != mask.tobytes()
        assert _ink(warped) == pytest.approx(_ink(mask), rel=0.15)


def test_small_text_is_never_thinned() -> None:
    stroke = Image.new("L", (30, 16))
    stroke.paste(255, (0, 7, 30, 9))  # a 2-pixel stroke that one pixel less would erase
    for seed in range(20):
        out = glyph_variation._weighted(stroke, 16, np.random.default_rng(seed))
        assert _ink(out) >= _ink(stroke)


def test_varied_masks_are_deterministic_and_keep_the_ink(mask: Image.Image) -> None:
    def vary(seed: int, vertical: bool = False) -> Image.Image:
        return glyph_variation.varied(mask, 40, vertical, np.random.default_rng(seed))

    assert vary(3).tobytes() == vary(3).tobytes()
    changed = 0
    for seed in range(16):
        out = vary(seed, vertical=seed % 2 == 1)
        assert out.mode == "L" and out.getbbox() == (0, 0, *out.size)  # cropped to its ink
        assert 0.3 * _ink(mask) < _ink(out) < 2.5 * _ink(mask)  # thinned and condensed: 0.47
        assert 0.8 * mask.height <= out.height <= 1.3 * mask.height
        changed += out.tobytes() != mask.tobytes()
    assert changed >= 12  # all but the draws that picked no variation


def _tables(folder: Path, share: float) -> dict[str, pd.DataFrame]:
    synthesize(
        folder,
        num_train=10,
        num_validation=3,
        num_test=3,
        workers=1,
        progress=False,
        variation_share=share,
    )
    return {
        s: pd.read_csv(folder / f"{s}.csv") for s in ("train", "validation", "test-heldout-fonts")
    }


def test_variation_share_changes_training_glyphs_only(tmp_path: Path) -> None:
    if not fonts_by_split()[HELDOUT]:
        pytest.skip("no held-out font installed")
    plain, varied = _tables(tmp_path / "plain", 0.0), _tables(tmp_path / "varied", 1.0)
    for split, table in plain.items():
        # The same texts in the same faces: a share > 0 only adds draws after choosing them.
        assert table.drop(columns="img_path").equals(varied[split].drop(columns="img_path"))
        same = [
            Image.open(tmp_path / "plain" / a).tobytes()
            == Image.open(tmp_path / "varied" / b).tobytes()
            for a, b in zip(table["img_path"], varied[split]["img_path"], strict=True)
        ]
        assert all(same) if split != "train" else not any(same)


def test_variation_share_out_of_range_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="glyph-variation share"):
        synthesize(tmp_path, num_train=1, num_validation=0, num_test=0, variation_share=-0.1)
