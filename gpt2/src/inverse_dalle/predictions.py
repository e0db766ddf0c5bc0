"""Post-processing of readings: merging test-time-augmented repeats, and a printable score table."""

from __future__ import annotations

from collections import defaultdict

import pandas as pd

from inverse_dalle.table_reading import TableReading
from inverse_dalle.voting import vote
from ocr_common.metrics import Scores


def readings_table(result: TableReading) -> pd.DataFrame:
    """`img_path,text,confidence`: one reading per input row, in order."""
    return pd.DataFrame(
        {
            "img_path": result.rows["img_path"],
            "text": result.texts,
            "confidence": result.confidences,
        }
    )


def merge_repeats(predictions: pd.DataFrame) -> pd.DataFrame:
    """One row per img_path (a token table written with --use-tta): the repeats' vote."""
    repeats: dict[str, list[tuple[str, float]]] = defaultdict(list)
    for path, text, confidence in predictions[["img_path", "text", "confidence"]].itertuples(
        index=False
    ):
        repeats[path].append((text, confidence))
    rows = [(path, *vote(readings)) for path, readings in repeats.items()]  # input order
    return pd.DataFrame(rows, columns=["img_path", "text", "confidence"])


def scores_table(scores: dict[str, Scores]) -> str:
    lines = [f"{'group':<16} {'count':>7} {'word acc':>9} {'CER':>7} {'1-NED':>7}"]
    for group, value in scores.items():
        lines.append(
            f"{group:<16} {value.count:>7} {value.word_accuracy:>9.4f} {value.cer:>7.4f} "
            f"{value.one_minus_ned:>7.4f}"
        )
    return "\n".join(lines)
