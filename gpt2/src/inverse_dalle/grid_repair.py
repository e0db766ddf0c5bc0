"""Sampled image tokens → a rectangular grid the VQVAE decoder can draw, never an exception.

A sampler can write any sequence of [ROW] and codes. One rule turns every sample into a rectangle:

1. The image ends at the first token that is neither [ROW] nor a code ([IMG_PAD], or text the
   model went on to write) and at `max_visual_length` tokens.
2. Rows start at [ROW]; empty rows are dropped, codes before the first [ROW] open a row.
3. Width = the most common row length (a tie goes to the wider); a short row repeats its last
   code up to it (the row's own background, not a foreign one), a long row is cut.
4. Rows that no longer fit `max_visual_length` with their [ROW] tokens are dropped from the bottom.
5. A sample without a single code is drawn as one code-0 token.

Each deviation is named in `repairs`, so a caller can count how often the model needed help.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inverse_dalle.token_format import TokenLayout
from vqvae.token_table import max_rows

RAGGED = "ragged"  # rows of different lengths, padded or cut to the common width (rule 3)
MISPLACED_ROW = "misplaced_row"  # an empty row or codes before the first [ROW] (rule 2)
TOO_LONG = "too_long"  # over max_visual_length, before or after padding (rules 1 and 4)
EMPTY = "empty"  # no code at all (rule 5)
REPAIRS = (RAGGED, MISPLACED_ROW, TOO_LONG, EMPTY)


@dataclass(frozen=True)
class RepairedGrid:
    grid: list[list[int]]  # code ids (0 … num_codes-1), every row equally long
    repairs: tuple[str, ...]  # names from REPAIRS; empty for a well-formed sample

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.grid), len(self.grid[0])


def repair_grid(tokens: Sequence[int], layout: TokenLayout) -> RepairedGrid:
    """The grid of one sample (token ids from its first [ROW] on), repaired by the rule above."""
    repairs: list[str] = []
    image: list[int] = []
    for token in tokens:
        if token != layout.row_id and not layout.code_offset <= token < layout.vocab_size:
            break
        image.append(token)
    if len(image) > layout.max_visual_length:
        image = image[: layout.max_visual_length]
        repairs.append(TOO_LONG)
    rows: list[list[int]] = []
    for token in image:
        if token == layout.row_id:
            rows.append([])
        else:
            if not rows:
                rows.append([])
            rows[-1].append(token - layout.code_offset)
    if (image and image[0] != layout.row_id) or any(not row for row in rows):
        repairs.append(MISPLACED_ROW)
    rows = [row for row in rows if row]
    if not rows:
        return RepairedGrid([[0]], (*repairs, EMPTY))
    width = max(Counter(len(row) for row in rows).items(), key=lambda item: (item[1], item[0]))[0]
    if any(len(row) != width for row in rows):
        repairs.append(RAGGED)
        rows = [row[:width] + [row[-1]] * (width - len(row)) for row in rows]
    tallest = max_rows(width, layout.max_visual_length)
    if len(rows) > tallest:
        rows = rows[:tallest]
        if TOO_LONG not in repairs:
            repairs.append(TOO_LONG)
    return RepairedGrid(rows, tuple(repairs))


def count_repairs(grids: Iterable[RepairedGrid]) -> dict[str, int]:
    """How many samples needed each repair, and how many needed any (`repaired`)."""
    grids = list(grids)
    counts = {name: sum(name in grid.repairs for grid in grids) for name in REPAIRS}
    return {**counts, "repaired": sum(bool(grid.repairs) for grid in grids)}
