"""Sign and photo effects of the synthetic training images, and the fonts they are drawn in."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocr_common.fonts import HELDOUT, TRAIN, FontFace, fonts_by_split
from ocr_common.synthetic import synthesize
from ocr_common.synthetic.render import render_text_image, text_mask
from ocr_common.synthetic.sign_effects import decoration_mask, letter_spacing, photographed


def _train_face() -> FontFace:
    faces = fonts_by_split()[TRAIN]
    if not faces:
        pytest.skip("no Korean training font installed")
    return faces[0]


def test_sign_rendering_is_deterministic_and_differs_from_a_plain_render() -> None:
    face = _train_face()

    def render(signs: bool, seed: int) -> np.ndarray:
        rng = np.random.default_rng(seed)
        return np.asarray(render_text_image("약국 주차장", face, False, rng, signs=signs))

    assert np.array_equal(render(True, 3), render(True, 3))
    differing = sum(render(True, s).shape != render(False, s).shape for s in range(8))
    differing += sum(
        render(True, s).shape == render(False, s).shape
        and not np.array_equal(render(True, s), render(False, s))
        for s in range(8)
    )
    assert differing == 8


def test_decorations_surround_the_ink() -> None:
    mask = Image.new("L", (40, 40))
    mask.paste(255, (15, 15, 25, 25))
    ink = np.asarray(mask) > 0
    seen = 0
    for seed in range(40):
        decoration = decoration_mask(mask, 32, np.random.default_rng(seed))
        if decoration is None:
            continue
        seen += 1
        assert decoration.shape == ink.shape and decoration.max() <= 1.0
        assert decoration[~ink].max() > 0.2  # it shows outside the glyph, where it is seen
    assert 5 < seen < 35  # drawn for about half the images


def test_photo_effects_keep_an_rgb_image_of_about_the_same_size() -> None:
    image = Image.new("RGB", (120, 40), (200, 30, 30))
    for seed in range(30):
        out = photographed(image, 32, seed % 2 == 0, np.random.default_rng(seed))
        assert out.mode == "RGB"
        assert 100 <= out.width <= 120 and 20 <= out.height <= 40


def _tables(folder: Path, share: float) -> dict[str, pd.DataFrame]:
    synthesize(
        folder,
        num_train=12,
        num_validation=4,
        num_test=4,
        seed=0,
        workers=1,
        progress=False,
        sign_share=share,
    )
    return {
        split: pd.read_csv(folder / f"{split}.csv")
        for split in ("train", "validation", "test-heldout-fonts")
    }


def _pixels(folder: Path, table: pd.DataFrame) -> list[bytes]:
    return [Image.open(folder / path).tobytes() for path in table["img_path"]]


def test_sign_share_changes_training_images_only(tmp_path: Path) -> None:
    if not fonts_by_split()[HELDOUT]:
        pytest.skip("no held-out font installed")
    plain, signs = _tables(tmp_path / "plain", 0.0), _tables(tmp_path / "signs", 1.0)
    for split in ("validation", "test-heldout-fonts"):
        assert _pixels(tmp_path / "plain", plain[split]) == _pixels(
            tmp_path / "signs", signs[split]
        )
    changed = sum(
        a != b
        for a, b in zip(
            _pixels(tmp_path / "plain", plain["train"]),
            _pixels(tmp_path / "signs", signs["train"]),
            strict=True,
        )
    )
    assert changed == len(plain["train"])


def test_sign_share_out_of_range_is_refused(tmp_path: Path) -> None:
    from ocr_common.errors import UserError

    with pytest.raises(UserError, match="sign-effect share"):
        synthesize(tmp_path, num_train=1, num_validation=0, num_test=0, sign_share=1.5)


def _gaps(mask: Image.Image) -> list[int]:
    """Widths of the empty column runs between inked columns, left to right."""
    inked = (np.asarray(mask) > 0).any(axis=0)
    gaps, run = [], 0
    for column in inked:
        if column:
            if run:
                gaps.append(run)
            run = 0
        else:
            run += 1
    return gaps


def test_letter_spacing_spreads_characters_and_keeps_word_spaces_wider() -> None:
    face = _train_face()
    tight = text_mask("하정", face, 40, vertical=False)
    spaced = text_mask("하정", face, 40, vertical=False, tracking=0.8)
    assert spaced.width >= tight.width + 0.8 * 40 - 2
    assert abs(spaced.height - tight.height) <= 2
    letter_gap = max(_gaps(spaced))
    word_gap = max(_gaps(text_mask("하 정", face, 40, vertical=False, tracking=0.8)))
    assert word_gap > letter_gap + 0.15 * 40  # a space still reads as a space
    tall = text_mask("하정", face, 40, vertical=True, tracking=0.5)
    assert tall.height >= text_mask("하정", face, 40, vertical=True).height + 0.5 * 40 - 2
    draws = [letter_spacing(np.random.default_rng(seed)) for seed in range(200)]
    assert 0.2 < np.mean([d > 0 for d in draws]) < 0.4
    assert max(draws) <= 1.0
