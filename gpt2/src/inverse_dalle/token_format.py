"""The one owner of the GPT-2 sequence format; writer, reader, generation and export import it.

Ids: the character vocabulary first (`<s> </s> <pad> <unk>`, then characters), then `[ROW]`,
`[IMG_PAD]`, then the codebook. OCR (image first):

    [ROW] r1 … [ROW] rh [IMG_PAD]* <s> t1 … tn </s> <pad>*

Text-to-image (text first, after finetuning with src/finetune.py):

    <s> t1 … tn </s> <pad>* [ROW] r1 … [ROW] rh [IMG_PAD]*

With the `columns` reading order (`data.reading_order`), a grid wider than tall (a horizontal
line) is fed column by column instead, each column after a `[COL]` (the id after the codebook):
`[COL] c1 … [COL] cw`, so each glyph's codes are contiguous, as a vertical line's already are
row by row. That takes w·(h+1) tokens instead of h·(w+1), so such a reader needs a larger
`max_visual_length` (160 for the 128-token tables); taller grids, and wide ones whose columns
would not fit, are fed by rows.

Padding is masked out of attention and positions are explicit, so a reader can drop padding
altogether (no compute spent on it) and still see exactly what training saw: the text always
starts at position `max_visual_length`, and a text-first image at position `text_length`. In the
text-first order the first [IMG_PAD] after the grid is also a target: it is how a drawing model
says "the image ends here" (a grid that fills `max_visual_length` needs no end).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from inverse_dalle.vocabulary import BOS_ID, EOS_ID, PAD_ID
from vqvae.token_table import check_budget

FORMAT_VERSION = 1
IGNORE = -100  # cross-entropy target that does not count
IMAGE_TO_TEXT, TEXT_TO_IMAGE = "image_to_text", "text_to_image"  # `order` of an export
ORDERS = (IMAGE_TO_TEXT, TEXT_TO_IMAGE)
ROWS, COLUMNS = "rows", "columns"  # `reading_order`: how a wide grid becomes a sequence
READING_ORDERS = (ROWS, COLUMNS)


def round_up(value: int, multiple: int = 64) -> int:
    return -(-value // multiple) * multiple


@dataclass(frozen=True)
class TokenLayout:
    text_vocab_size: int
    num_codes: int
    max_visual_length: int
    max_text_length: int  # characters (or jamo), without <s> and </s>
    reading_order: str = ROWS

    def __post_init__(self) -> None:
        if self.reading_order not in READING_ORDERS:
            raise ValueError(
                f"reading order must be one of {READING_ORDERS}, not {self.reading_order!r}"
            )

    @property
    def row_id(self) -> int:
        return self.text_vocab_size

    @property
    def image_pad_id(self) -> int:
        return self.text_vocab_size + 1

    @property
    def code_offset(self) -> int:
        return self.text_vocab_size + 2

    @property
    def column_id(self) -> int:
        """The marker of a column (the `columns` reading order only)."""
        return self.code_offset + self.num_codes

    @property
    def vocab_size(self) -> int:
        return self.code_offset + self.num_codes + (self.reading_order == COLUMNS)

    @property
    def embedding_size(self) -> int:
        """Embedding rows, rounded up to a multiple of 64 for efficient matmuls."""
        return round_up(self.vocab_size)

    @property
    def text_length(self) -> int:
        return self.max_text_length + 2

    @property
    def sequence_length(self) -> int:
        return self.max_visual_length + self.text_length

    def image_start(self, order: str) -> int:
        """Position of the first [ROW]."""
        return self.text_length if order == TEXT_TO_IMAGE else 0

    def by_columns(self, rows: int, cols: int) -> bool:
        """Whether a grid of `rows` × `cols` is fed column by column: in `columns` order, one
        wider than tall whose columns, each with its [COL], fit `max_visual_length` (a line too
        long for that, 1–3 rows high in a 160-token budget, is fed by rows)."""
        fits = cols * (rows + 1) <= self.max_visual_length
        return self.reading_order == COLUMNS and cols > rows and fits

    def visual_ids(self, grid: list[list[int]]) -> list[int]:
        """`[ROW] r1 … [ROW] rh` (or `[COL] c1 … [COL] cw`, see by_columns) for a grid of code
        ids (without padding); ValueError over the budget (vqvae.token_table's rule, applied to
        the lines as fed)."""
        lines, marker = grid, self.row_id
        if grid and self.by_columns(len(grid), len(grid[0])):
            lines, marker = [list(column) for column in zip(*grid, strict=True)], self.column_id
        check_budget(lines, self.max_visual_length)
        ids = []
        for line in lines:
            ids.append(marker)
            ids.extend(code + self.code_offset for code in line)
        return ids

    def grid(self, visual_ids: list[int]) -> list[list[int]]:
        """Inverse of `visual_ids` for a well-formed sequence (padding after the grid ignored)."""
        lines: list[list[int]] = []
        markers = {self.row_id}
        if self.reading_order == COLUMNS:
            markers.add(self.column_id)
        for token in visual_ids:
            if token in markers:
                lines.append([])
            elif self.code_offset <= token < self.code_offset + self.num_codes and lines:
                lines[-1].append(token - self.code_offset)
            elif token == self.image_pad_id:
                break
            else:
                raise ValueError(f"token {token} is not part of an image grid")
        if visual_ids and visual_ids[0] == self.column_id:  # only in `columns` order
            return [list(row) for row in zip(*lines, strict=True)]
        return lines


@dataclass
class Example:
    """One training sequence with its attention mask, positions and loss targets."""

    input_ids: torch.Tensor  # (T,)
    attention_mask: torch.Tensor  # (T,) 0 on padding
    image_targets: torch.Tensor  # (T,) next visual token or IGNORE
    text_targets: torch.Tensor  # (T,) next text token or IGNORE


def text_prompt(text_ids: list[int]) -> list[int]:
    """`<s> t1 … tn </s>`: the text of either order."""
    return [BOS_ID, *text_ids, EOS_ID]


def ocr_example(layout: TokenLayout, grid: list[list[int]], text_ids: list[int]) -> Example:
    """The image-then-text sequence; `text_ids` must fit `max_text_length` (truncate first)."""
    visual = layout.visual_ids(grid)
    image_pad = layout.max_visual_length - len(visual)
    text = text_prompt(text_ids)
    text_pad = layout.text_length - len(text)
    ids = visual + [layout.image_pad_id] * image_pad + text + [PAD_ID] * text_pad
    mask = [1] * len(visual) + [0] * image_pad + [1] * len(text) + [0] * text_pad
    image_targets = [IGNORE] * len(ids)
    text_targets = [IGNORE] * len(ids)
    # Position p predicts token p+1: the image LM predicts the grid after the first [ROW];
    # the text LM predicts t1 … tn </s> from <s> onwards.
    for p in range(len(visual) - 1):
        image_targets[p] = visual[p + 1]
    start = layout.max_visual_length
    for offset in range(len(text) - 1):
        text_targets[start + offset] = text[offset + 1]
    return Example(
        torch.tensor(ids),
        torch.tensor(mask),
        torch.tensor(image_targets),
        torch.tensor(text_targets),
    )


def drop_prompts(
    layout: TokenLayout, batch: dict[str, torch.Tensor], drop: torch.Tensor
) -> dict[str, torch.Tensor]:
    """A text-first batch whose rows where `drop` (B,) is true have the empty prompt `<s> </s>`
    instead of their text, images untouched: the unconditional examples of classifier-free
    guidance."""
    empty = text_first_example(layout, [], [])
    width = layout.text_length  # the text with its padding; the image starts after it
    dropped = dict(batch)
    for key in ("input_ids", "attention_mask", "text_targets"):  # no image target in the text
        value = batch[key].clone()
        value[drop, :width] = getattr(empty, key)[:width].to(value.device)
        dropped[key] = value
    return dropped


def text_first_example(layout: TokenLayout, grid: list[list[int]], text_ids: list[int]) -> Example:
    """The text-then-image sequence of text-to-image finetuning (`text_ids` already truncated)."""
    text = text_prompt(text_ids)
    visual = layout.visual_ids(grid)
    text_pad = layout.text_length - len(text)
    image_pad = layout.max_visual_length - len(visual)
    ids = text + [PAD_ID] * text_pad + visual + [layout.image_pad_id] * image_pad
    mask = [1] * len(text) + [0] * text_pad + [1] * len(visual) + [0] * image_pad
    image_targets = [IGNORE] * len(ids)
    text_targets = [IGNORE] * len(ids)
    for offset in range(len(text) - 1):
        text_targets[offset] = text[offset + 1]
    # The first [ROW] always follows the padding (a generator feeds it); the last code predicts
    # the end-of-image [IMG_PAD] unless the grid fills the budget.
    ends = visual[1:] + ([layout.image_pad_id] if image_pad else [])
    start = layout.text_length
    for offset, target in enumerate(ends):
        image_targets[start + offset] = target
    return Example(
        torch.tensor(ids),
        torch.tensor(mask),
        torch.tensor(image_targets),
        torch.tensor(text_targets),
    )
