"""Regression (issue 16): the shipped reader's readings and confidences on examples/*.png, as
recorded before the renovation. A refactor that changes what the model reads fails here."""

from pathlib import Path

import pytest

from inverse_dalle import InverseDalleOCR

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")

# Recorded with read_batch on CPU (one thread) at d2b83b0, before any issue-16 change.
EXPECTED = {
    "00-vertical.png": ("틴넴빎", 0.7185510396957397),
    "01-horizontal.png": ("24,000원", 0.9932733178138733),
    "02-vertical.png": ("연일", 0.9928950667381287),
    "03-horizontal.png": ("사토시", 0.9852990508079529),
    "04-horizontal.png": ("집시", 0.9535293579101562),
    "05-horizontal.png": ("승 괸시키어", 0.10568787902593613),
    "06-vertical.png": ("AQF 병원", 0.376583993434906),
    "07-horizontal.png": ("시프트", 0.9864141941070557),
    "08-horizontal.png": ("양상 추", 0.3309924900531769),
    "09-vertical.png": ("과다보Pizza", 0.07797040790319443),
    "10-vertical.png": ("자치하여", 0.6935503482818604),
    "11-vertical.png": ("돌려", 0.9977690577507019),
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
    assert (text, confidence) == ("틴넴빎", pytest.approx(0.7185510396957397, rel=1e-5))
