"""Beam-search reading (beam_reading.py): one beam is greedy reading, more beams find readings at
least as probable, and each reading's confidence is the model's probability of that text."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from inverse_dalle import InverseDalleOCR
from inverse_dalle.beam_reading import read_batch_with_beams
from inverse_dalle.cli import read
from ocr_common.errors import UserError
from ocr_common.tables import read_table
from vqvae.token_table import string_to_grid

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = sorted((REPO / "examples").glob("*.png"))

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def ocr_and_grids() -> tuple[InverseDalleOCR, list[list[list[int]]]]:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    return ocr, ocr.tokenize(EXAMPLES)


def test_one_beam_reads_as_greedy(ocr_and_grids) -> None:
    ocr, grids = ocr_and_grids
    greedy = ocr.read_grids(grids)
    for grid, expected in zip(grids, greedy, strict=True):
        [reading] = read_batch_with_beams(ocr.model, ocr.layout, [ocr.layout.visual_ids(grid)], 1)
        assert (reading.ids, reading.ended) == (expected.ids, expected.ended)
        assert reading.confidence == pytest.approx(expected.confidence, rel=1e-5)


def test_more_beams_find_readings_at_least_as_probable(pipeline: dict[str, Path]) -> None:
    """On the test pipeline's barely trained reader, where greedy choices are often wrong."""
    ocr = InverseDalleOCR.from_pretrained(pipeline["export"], device="cpu")
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    grids = [string_to_grid(s) for s in table["visual_tokens"]]
    greedy = ocr.read_grids(grids)
    beam = InverseDalleOCR(ocr.model, ocr.layout, ocr.vocabulary, ocr.tokenizer, beams=4)
    searched = beam.read_grids(grids, batch_size=5)  # batches of several images and lengths
    assert sum(s.ids != g.ids for s, g in zip(searched, greedy, strict=True)) >= 2
    for grid, reading, first in zip(grids, searched, greedy, strict=True):
        assert reading.confidence >= first.confidence * (1 - 1e-5)
        if reading.ended:
            [log_likelihood] = ocr.log_likelihoods([grid], ocr.text(reading))
            assert reading.confidence == pytest.approx(math.exp(log_likelihood), rel=1e-4)


def test_predict_reads_with_beams_and_refuses_none(tmp_path, capsys) -> None:
    output = tmp_path / "readings.csv"
    read([str(PRETRAINED), str(REPO / "examples"), "--output", str(output), "--beams", "3"])
    assert "wrote 12 reading(s)" in capsys.readouterr().out
    with pytest.raises(UserError, match="beams must be at least 1"):
        read([str(PRETRAINED), str(REPO / "examples"), "--output", str(output), "--beams", "0"])
