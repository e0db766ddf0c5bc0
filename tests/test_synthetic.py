"""The synthetic dataset: table contract, fonts per split, determinism, texts, rendering."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocr_common.errors import UserError
from ocr_common.fonts import HELDOUT, TRAIN, discover_fonts, draws_text, split_of
from ocr_common.synthetic import SPLITS, TextSampler, character_coverage, synthesize
from ocr_common.synthetic.contact_sheet import (
    CELL_WIDTH,
    GAP,
    IMAGE_HEIGHT,
    LABEL_HEIGHT,
    contact_sheet,
)
from ocr_common.synthetic.render import contrast_ratio, render_text_image
from ocr_common.synthetic.texts import MAX_CHARS, hunspell_lexicon
from ocr_common.tables import read_table, resolve_image_paths

ROOT = Path(__file__).resolve().parents[1]
EXPECTED_COUNTS = {"train": 32, "validation": 8, "test-heldout-fonts": 8}


def tables(folder: Path) -> dict[str, pd.DataFrame]:
    return {split: read_table(folder / f"{split}.csv") for split in SPLITS}


def test_tables_follow_the_dataset_contract(synthetic_dataset):
    for split, table in tables(synthetic_dataset).items():
        assert list(table.columns) == ["img_path", "text", "orientation", "font", "source"]
        assert len(table) == EXPECTED_COUNTS[split]
        assert all(path.startswith(f"images/{split}/") for path in table["img_path"])
        for path in resolve_image_paths(table, synthetic_dataset / f"{split}.csv"):
            with Image.open(path) as image:
                assert image.format == "PNG" and image.mode == "RGB"
                assert image.height >= 16 and image.width >= 16
        assert set(table["source"]) <= {"wordfreq", "hunspell", "syllables", "sign"}
    assert not list(synthetic_dataset.glob("**/.*partial*"))  # no temporary files left


def test_texts_are_nfc_and_within_length(synthetic_dataset):
    texts = pd.concat(t["text"] for t in tables(synthetic_dataset).values())
    raw = pd.concat(
        pd.read_csv(synthetic_dataset / f"{split}.csv", dtype=str, keep_default_na=False)["text"]
        for split in SPLITS
    )
    assert list(raw) == list(texts)  # already NFC as written, not just after reading
    assert all(1 <= len(text) <= MAX_CHARS and text == text.strip() for text in texts)


def test_both_orientations_are_drawn_the_right_way_round(synthetic_dataset):
    table = tables(synthetic_dataset)["train"]
    assert set(table["orientation"]) == {"horizontal", "vertical"}
    for path, row in zip(
        resolve_image_paths(table, synthetic_dataset / "train.csv"), table.itertuples(), strict=True
    ):
        if len(row.text.replace(" ", "")) < 2:
            continue
        with Image.open(path) as image:
            tall = image.height > image.width
        assert tall == (row.orientation == "vertical"), row


def test_each_split_uses_only_its_fonts_and_every_font_draws_its_text(synthetic_dataset):
    faces = {face.name: face for face in discover_fonts()}
    for split, table in tables(synthetic_dataset).items():
        group = HELDOUT if split == "test-heldout-fonts" else TRAIN
        for text, font in zip(table["text"], table["font"], strict=True):
            assert split_of(faces[font]) == group, (split, font)
            assert draws_text(faces[font], text), (font, text)


def test_same_seed_gives_identical_bytes_whatever_the_worker_count(tmp_path):
    kwargs = dict(num_train=10, num_validation=3, num_test=3, seed=7, progress=False)
    synthesize(tmp_path / "one", workers=1, **kwargs)
    synthesize(tmp_path / "two", workers=2, **kwargs)
    files = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*.*"))
    assert len(files) == 16 + 3
    for file in files:
        assert (tmp_path / "one" / file).read_bytes() == (tmp_path / "two" / file).read_bytes()
    other = synthesize(tmp_path / "other", workers=1, **{**kwargs, "seed": 8})
    assert other.counts == {"train": 10, "validation": 3, "test-heldout-fonts": 3}
    assert (
        read_table(tmp_path / "other" / "train.csv")["text"].tolist()
        != read_table(tmp_path / "one" / "train.csv")["text"].tolist()
    )


def test_report_counts_fonts_and_coverage(tmp_path):
    started = time.perf_counter()
    report = synthesize(
        tmp_path, num_train=6, num_validation=0, num_test=2, workers=1, progress=False
    )
    elapsed = time.perf_counter() - started
    assert report.counts == {"train": 6, "validation": 0, "test-heldout-fonts": 2}
    assert read_table(tmp_path / "validation.csv").empty
    train = read_table(tmp_path / "train.csv")
    assert report.coverage["train"] == character_coverage(train["text"])
    assert report.fonts["train"] == sorted(set(train["font"]))  # the fonts its images name
    assert 0 < report.seconds <= elapsed  # the run's own wall time, not a guess
    assert report.images_per_second == pytest.approx(8 / report.seconds)  # all 8 images
    assert f"{report.seconds:.1f} s, {report.images_per_second:.0f} images/s" in report.summary()
    assert "test-heldout-fonts: 2 images" in report.summary()


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(num_train=-1),
        dict(min_height=40, max_height=20),
        dict(vertical_share=1.5),
        dict(seed=-3),
        dict(workers=0),
    ],
)
def test_bad_arguments_are_user_errors(tmp_path, kwargs):
    arguments = {**dict(num_train=1, num_validation=1, num_test=1, progress=False), **kwargs}
    with pytest.raises(UserError):
        synthesize(tmp_path, **arguments)
    assert not list(tmp_path.iterdir())


def test_sampler_draws_every_source_in_bounds():
    sampler = TextSampler()
    rng = np.random.default_rng(0)
    samples = [sampler.sample(rng) for _ in range(2000)]
    assert {source for _, source in samples} == {"wordfreq", "hunspell", "syllables", "sign"}
    texts = [text for text, _ in samples]
    assert all(1 <= len(t) <= MAX_CHARS and unicodedata.is_normalized("NFC", t) for t in texts)
    assert any(c.isascii() and c.isalpha() for t in texts for c in t)  # Latin on signs
    assert any(c.isdigit() for t in texts for c in t)
    multi_syllable = sum(len(t) > 1 for t, s in samples if s == "wordfreq")
    assert multi_syllable > 0.8 * sum(s == "wordfreq" for _, s in samples)


def test_random_syllables_cover_ks_x_1001():
    sampler = TextSampler(source_weights={"syllables": 1.0})
    rng = np.random.default_rng(1)
    coverage = character_coverage(sampler.sample(rng)[0] for _ in range(3000))
    assert coverage.ksx1001_share > 0.95


def test_missing_dictionary_is_skipped_with_a_note(tmp_path):
    sampler = TextSampler(hunspell_path=tmp_path / "missing.dic")
    rng = np.random.default_rng(0)
    assert "hunspell" in sampler.notes[0]
    assert all(sampler.sample(rng)[1] != "hunspell" for _ in range(300))


def test_hunspell_words_are_recomposed(tmp_path):
    dic = tmp_path / "ko.dic"
    words = ["사과/25", "한국어/30", "ㄱ/1", "현금 카드", "a", "가" * 13]
    dic.write_text(unicodedata.normalize("NFD", "\n".join(["6", *words])), encoding="utf-8")
    assert hunspell_lexicon(dic).words == ("사과", "한국어", "현금 카드")


def test_character_coverage_counts_syllables_and_characters():
    coverage = character_coverage(["가나", "A 가", "뷁"])
    # 가 나 A 뷁 are distinct (the space is not counted); 뷁 is not among the KS X 1001 syllables
    assert (coverage.distinct_characters, coverage.ksx1001_seen) == (4, 2)


def test_rendered_text_has_contrast_and_requested_height():
    face = next(f for f in discover_fonts() if split_of(f) == TRAIN)
    for seed in range(20):
        image = render_text_image("가", face, False, np.random.default_rng(seed), 30, 30)
        assert 30 * 0.6 < image.height < 30 * 2
    assert contrast_ratio(np.array([0, 0, 0]), np.array([255, 255, 255])) == pytest.approx(21)


def test_contact_sheet_shows_the_requested_samples(synthetic_dataset):
    sheet = contact_sheet(synthetic_dataset / "train.csv", count=6, columns=3)
    assert sheet.size == (
        3 * (CELL_WIDTH + GAP) + GAP,
        2 * (IMAGE_HEIGHT + LABEL_HEIGHT + GAP) + GAP,
    )
    pixels = np.asarray(sheet)
    assert (pixels < 250).any(axis=2).mean() > 0.1  # images and labels, not a blank page


def test_cli_writes_the_dataset_and_reports_bad_input(tmp_path):
    script = ROOT / "scripts" / "synthesize_dataset.py"
    args = ["--train", "3", "--validation", "1", "--test", "1", "--workers", "1", "--no-progress"]
    result = subprocess.run(
        [sys.executable, script, tmp_path / "out", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "images/s" in result.stdout and "KS X 1001" in result.stdout
    assert len(read_table(tmp_path / "out" / "train.csv")) == 3
    bad = subprocess.run(
        [sys.executable, script, tmp_path / "bad", "--train", "-2"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stderr.strip().startswith("error: number of train")


def test_plain_images_are_black_on_white_in_the_chosen_fonts(tmp_path: Path):
    face = next(f for f in discover_fonts() if split_of(f) == TRAIN)
    image = render_text_image("가나", face, False, np.random.default_rng(0), 30, 30, plain=True)
    pixels = np.asarray(image)
    assert set(np.unique(pixels[0])) == {255} and pixels.min() == 0  # white margin, black ink
    assert (pixels[..., 0] == pixels[..., 2]).all()  # grey levels only
    synthesize(
        tmp_path, num_train=4, num_validation=0, num_test=0, workers=1, progress=False,
        plain=True, font_family=f"{re.escape(face.name)}$",
    )  # fmt: skip
    assert set(read_table(tmp_path / "train.csv")["font"]) == {face.name}
    with pytest.raises(UserError, match="matching 'nothing-like-this'"):
        synthesize(tmp_path / "none", num_train=1, num_validation=0, num_test=0,
                   font_family="nothing-like-this")  # fmt: skip
