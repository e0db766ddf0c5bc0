"""Test-time augmentation: `tta` views of each image, read and voted on (voting.py), the same
through the Python API, predict/evaluate on image files, and the token-table route
(vqvae predict --use-tta, then predict --merge-tta)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from inverse_dalle import InverseDalleOCR
from inverse_dalle.cli import evaluate, read
from inverse_dalle.voting import vote
from ocr_common.errors import UserError
from vqvae.cli import tokenize
from vqvae.images import augmented_view

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_views_are_the_image_then_seeded_jitters() -> None:
    image = Image.open(EXAMPLES / "03-horizontal.png").convert("RGB")
    assert augmented_view(image, 0) is image
    third = np.asarray(augmented_view(image, 3))
    assert np.array_equal(third, np.asarray(augmented_view(image, 3)))  # seeded by the number
    assert not np.array_equal(third, np.asarray(augmented_view(image, 4)))
    assert third.shape[0] <= image.height and third.shape[1] <= image.width  # crops, never pads


def test_vote_sums_confidences() -> None:
    assert vote([("가", 0.5), ("나", 0.4), ("나", 0.3), ("가", 0.1)]) == (
        "나",
        pytest.approx(0.175),
    )
    assert vote([]) == ("", 0.0)


def test_tta_reading_is_the_vote_of_its_views() -> None:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tta=4)
    images = sorted(EXAMPLES.glob("*.png"))
    voted = ocr.read_batch(images)
    single = InverseDalleOCR(ocr.model, ocr.layout, ocr.vocabulary, ocr.tokenizer)
    per_view = [single.read_grids(single.tokenize_each(images, view=view)) for view in range(4)]
    differing = [i for i in range(len(images)) if len({tuple(v[i].ids) for v in per_view}) > 1]
    assert differing  # the views are read differently: there is something to vote on
    for index, (text, confidence) in enumerate(voted):
        candidates = [(single.text(view[index]), view[index].confidence) for view in per_view]
        expected_text, expected_confidence = vote(candidates)
        assert text == expected_text
        assert confidence == pytest.approx(expected_confidence, rel=1e-5)
    assert voted[0] == pytest.approx(ocr.read(images[0]))


def test_cli_tta_on_files_matches_the_token_table_route(tmp_path, capsys) -> None:
    table = tmp_path / "tokens.parquet"
    tokenize(
        [
            str(PRETRAINED / "vqvae"),
            "--dataset",
            str(EXAMPLES / "labels.csv"),
            "--output",
            str(table),
            "--use-tta",
            "--num-repeats",
            "3",
            "--no-progress",
        ]
    )
    merged = tmp_path / "merged.csv"
    read([str(PRETRAINED), str(table), "--output", str(merged), "--merge-tta"])
    direct = tmp_path / "direct.csv"
    read([str(PRETRAINED), str(EXAMPLES / "labels.csv"), "--output", str(direct), "--tta", "3"])
    merged_rows, direct_rows = pd.read_csv(merged), pd.read_csv(direct)
    assert list(merged_rows["text"]) == list(direct_rows["text"])
    assert np.allclose(merged_rows["confidence"], direct_rows["confidence"], rtol=1e-5)
    evaluate(
        [
            str(PRETRAINED),
            str(EXAMPLES / "labels.csv"),
            "--tta",
            "3",
            "--rescore",
            "--output",
            str(tmp_path / "scores.json"),
        ]
    )
    assert "wrote" in capsys.readouterr().out
    with pytest.raises(UserError, match="one view per row"):
        read([str(PRETRAINED), str(table), "--output", str(direct), "--tta", "2"])
    with pytest.raises(UserError, match="at least 1 view"):
        read([str(PRETRAINED), str(EXAMPLES), "--output", str(direct), "--tta", "0"])


def test_tta_curve_benchmark_scores_the_vote_by_view_count(tmp_path, monkeypatch) -> None:
    output = tmp_path / "tta.json"
    argv = ["tta_curve.py", str(PRETRAINED), str(EXAMPLES / "labels.csv"), "--views", "3"]
    monkeypatch.setattr(sys, "argv", [*argv, "--output", str(output)])
    runpy.run_path(str(REPO / "benchmarks" / "tta_curve.py"), run_name="__main__")
    curve = json.loads(output.read_text())["by_views"]
    assert list(curve) == ["1", "2", "3"]
    assert curve["1"]["scores"]["all"]["word_accuracy"] == pytest.approx(11 / 12)  # as recorded
    for entry in curve.values():
        assert entry["some_view_right"] >= entry["scores"]["all"]["word_accuracy"]


def test_rescoring_keeps_the_reading_all_views_find_most_likely() -> None:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tta=4, rescore=True)
    images = sorted(EXAMPLES.glob("*.png"))
    rescored = ocr.read_batch(images)
    single = InverseDalleOCR(ocr.model, ocr.layout, ocr.vocabulary, ocr.tokenizer)
    views = [single.tokenize_each(images, view=view) for view in range(4)]
    texts = [[single.text(r) for r in single.read_grids(grids)] for grids in views]
    contested = 0
    for index, (text, confidence) in enumerate(rescored):
        candidates = list(dict.fromkeys(view[index] for view in texts))
        grids = [view[index] for view in views]
        scores = [sum(single.log_likelihoods(grids, c)) for c in candidates]
        assert text == candidates[scores.index(max(scores))]
        assert 0.0 < confidence <= 1.0
        contested += len(candidates) > 1
    assert contested  # some image's views disagree: there was something to choose
    with pytest.raises(UserError, match="tta > 1"):
        InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", rescore=True)


def test_a_tta_threshold_reads_more_views_only_of_unsure_images(tmp_path) -> None:
    """Images whose first reading is at least as sure as the threshold keep it; the others are
    read as with all views (here rescored), through the API, predict and several processes."""
    images = sorted(EXAMPLES.glob("*.png"))
    plain = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu").read_batch(images)
    full = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tta=4, rescore=True)
    every_view = full.read_batch(images)
    threshold = 0.9
    adaptive = InverseDalleOCR.from_pretrained(
        PRETRAINED, device="cpu", tta=4, rescore=True, tta_threshold=threshold
    )
    readings = adaptive.read_batch(images)
    sure = [confidence >= threshold for _, confidence in plain]
    assert 0 < sum(sure) < len(images)  # some of each
    expected = [a if s else v for s, a, v in zip(sure, plain, every_view, strict=True)]
    assert expected != plain and expected != every_view  # a reading of each kind differs
    assert [text for text, _ in readings] == [text for text, _ in expected]
    assert [c for _, c in readings] == pytest.approx([c for _, c in expected], rel=1e-5)
    in_processes = adaptive.read_batch(images, workers=2)
    assert [text for text, _ in in_processes] == [text for text, _ in readings]
    output = tmp_path / "adaptive.csv"
    read([str(PRETRAINED), str(EXAMPLES), "--output", str(output), "--tta", "4", "--rescore",
          "--tta-threshold", str(threshold)])  # fmt: skip
    assert list(pd.read_csv(output)["text"]) == [text for text, _ in readings]
    for bad in (0.0, 1.5):
        with pytest.raises(UserError, match="tta threshold"):
            InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tta=4, tta_threshold=bad)
    with pytest.raises(UserError, match="tta threshold needs tta > 1"):
        InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu", tta_threshold=0.9)
