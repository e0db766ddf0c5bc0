"""OCR scores: word accuracy, character error rate and 1−NED (ICDAR 2019 ReCTS)."""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass


def normalize(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions all cost 1)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, 1):
        current = [i]
        for j, char_b in enumerate(b, 1):
            current.append(
                min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (char_a != char_b))
            )
        previous = current
    return previous[-1]


@dataclass(frozen=True)
class Scores:
    count: int
    word_accuracy: float
    cer: float  # total edit distance / total reference length
    one_minus_ned: float  # 1 − mean(edit distance / max(len(prediction), len(reference)))

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def score(predictions: Sequence[str], references: Sequence[str]) -> Scores:
    if len(predictions) != len(references):
        raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
    if not references:
        return Scores(0, 0.0, 0.0, 0.0)
    exact = distance_sum = reference_chars = 0
    ned_sum = 0.0
    for prediction, reference in zip(predictions, references, strict=True):
        prediction, reference = normalize(prediction), normalize(reference)
        distance = edit_distance(prediction, reference)
        exact += prediction == reference
        distance_sum += distance
        reference_chars += len(reference)
        ned_sum += distance / max(len(prediction), len(reference), 1)
    n = len(references)
    return Scores(n, exact / n, distance_sum / max(reference_chars, 1), 1.0 - ned_sum / n)


def score_by_group(
    predictions: Sequence[str], references: Sequence[str], groups: Sequence[str]
) -> dict[str, Scores]:
    """Scores overall (key `all`) and for each group value (e.g. each orientation)."""
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[str(group)].append(index)
    result = {"all": score(predictions, references)}
    for group in sorted(members):
        idx = members[group]
        result[group] = score([predictions[i] for i in idx], [references[i] for i in idx])
    return result
