"""Regression (issue 16): the shipped reader's readings and confidences on examples/*.png, as
recorded before the renovation. A refactor that changes what the model reads fails here."""

from pathlib import Path

import pytest

from inverse_dalle import InverseDalleOCR

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")

# Recorded with read_batch on CPU (one thread) for the reader shipped on 2026-11-30 (the mean of
# the 256-token reader and two continuations of it, on fresh lines and on new faces); 11 of 12
# right.
EXPECTED = {
    "00-vertical.png": ("틴넴빎", 0.8527496457099915),
    "01-horizontal.png": ("24,000원", 0.9991573691368103),
    "02-vertical.png": ("연일", 0.9979864954948425),
    "03-horizontal.png": ("사토시", 0.998367965221405),
    "04-horizontal.png": ("집시", 0.9996366500854492),
    "05-horizontal.png": ("승진시키어", 0.9019306898117065),
    "06-vertical.png": ("AOF 빌딩", 0.8564037680625916),
    "07-horizontal.png": ("시프트", 0.9961867928504944),
    "08-horizontal.png": ("양상추", 0.9847875237464905),
    "09-vertical.png": ("쳐다보Pizza", 0.6825039982795715),
    "10-vertical.png": ("자처하여", 0.9967724084854126),
    "11-vertical.png": ("돌러", 0.5570013523101807),
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
