"""Regression (issue 16): the shipped reader's readings and confidences on examples/*.png, as
recorded before the renovation. A refactor that changes what the model reads fails here."""

from pathlib import Path

import pytest

from inverse_dalle import InverseDalleOCR

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")

# Recorded with read_batch on CPU (one thread) for the reader shipped on 2026-11-29 (continued
# five times on sign-effect data, averaged, continued twice on fresh lines, one of them with glyph
# variation, and those two averaged); 8 of the 12 are right.
EXPECTED = {
    "00-vertical.png": ("틴넴빎", 0.8327301740646362),
    "01-horizontal.png": ("24,000원", 0.9790042638778687),
    "02-vertical.png": ("연일", 0.960297703742981),
    "03-horizontal.png": ("사토시", 0.9946437478065491),
    "04-horizontal.png": ("집시", 0.9955021739006042),
    "05-horizontal.png": ("숭 전시 키어", 0.2723749279975891),
    "06-vertical.png": ("AOF 빌딩", 0.17849774658679962),
    "07-horizontal.png": ("시프트", 0.9864681363105774),
    "08-horizontal.png": ("양상구", 0.3887285888195038),
    "09-vertical.png": ("치다느Pizza", 0.035417381674051285),
    "10-vertical.png": ("자치하여", 0.7938026189804077),
    "11-vertical.png": ("돌려", 0.9963746666908264),
}


def test_shipped_model_reads_the_examples_as_recorded() -> None:
    names = sorted(path.name for path in EXAMPLES.glob("*.png"))
    assert names == sorted(EXPECTED)
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    readings = ocr.read_batch([EXAMPLES / name for name in names])
    assert [text for text, _ in readings] == [EXPECTED[name][0] for name in names]
    confidences = [confidence for _, confidence in readings]
    assert confidences == pytest.approx([EXPECTED[name][1] for name in names], rel=1e-5)


def test_one_image_reads_as_in_the_batch() -> None:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    text, confidence = ocr.read(EXAMPLES / "00-vertical.png")
    assert (text, confidence) == ("틴넴빎", pytest.approx(EXPECTED["00-vertical.png"][1], rel=1e-5))


def test_a_batch_reads_as_its_images_one_by_one() -> None:
    """Rows that end early leave the batch (and its KV cache) while the others read on: the
    readings must not depend on who shares the batch."""
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    grids = ocr.tokenize(sorted(EXAMPLES.glob("*.png")))
    batched = ocr.read_grids(grids, batch_size=len(grids))
    assert len({len(reading.ids) for reading in batched}) > 3  # rows end at different steps
    for grid, reading in zip(grids, batched, strict=True):
        [alone] = ocr.read_grids([grid], batch_size=1)
        assert (alone.ids, alone.ended) == (reading.ids, reading.ended)
        assert alone.confidence == pytest.approx(reading.confidence, rel=1e-5)
