"""Test-time augmentation's vote: several readings of one image become one.

Each view of an image (vqvae.images.augmented_view: the image, then slightly cropped and
re-lit copies) puts its glyphs at another offset against the VQVAE's 8-pixel grid, so it is
tokenised differently and the reader's mistakes differ from view to view. The text with the
largest summed confidence wins; its confidence is that sum over the number of views, so views
that read something else lower it.

Rescoring (`rescore=True`) lets every view judge every candidate instead: each text some view
read is scored by its log-likelihood summed over all the views (a product of the views' experts,
`InverseDalleOCR.choose_each`), and the best scored wins, with the vote's confidence for it.
With a threshold (`tta_threshold`), only images whose first reading is unsure get more views
(`LineReader.read_images`); the others keep that reading and its confidence.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable


def support(readings: Iterable[tuple[str, float]]) -> tuple[dict[str, float], int]:
    """Each text's summed confidence (in first-seen order) and the number of readings."""
    totals: dict[str, float] = defaultdict(float)
    count = 0
    for text, confidence in readings:
        totals[text] += confidence
        count += 1
    return totals, count


def vote(readings: Iterable[tuple[str, float]]) -> tuple[str, float]:
    """(text, confidence) of several readings of one image; ("", 0.0) when there are none."""
    totals, count = support(readings)
    if not count:
        return "", 0.0
    text, total = max(totals.items(), key=lambda item: item[1])  # ties: the first seen
    return text, total / count
