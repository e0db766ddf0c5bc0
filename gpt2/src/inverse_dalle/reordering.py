"""Continue a reader trained by rows in the `columns` reading order (model.init_from with
data.reading_order=columns and a larger data.max_visual_length).

The columns of a wide grid need more tokens than its rows (token_format.py), so the text starts
later. Everything the source learnt carries over where its meaning does: image positions keep
their embeddings (those past the source's budget copy its last one), text positions move with
the text start, and `[COL]` starts from `[ROW]`'s embedding, since both say "a new line of codes
begins" and a vertical line's rows already run across each glyph as a wide grid's columns now do.
"""

from __future__ import annotations

import torch

from inverse_dalle.token_format import ROWS, TokenLayout

POSITIONS = "transformer.wpe.weight"
EMBEDDINGS = "transformer.wte.weight"
OUTPUT = "lm_head.weight"  # tied to the embeddings


def is_reordering(source: TokenLayout, target: TokenLayout) -> bool:
    """Whether `target` is `source` (read by rows) read by columns in a budget at least as large."""
    return (
        source.reading_order == ROWS
        and target.reading_order != ROWS
        and target.max_visual_length >= source.max_visual_length
        and (target.text_vocab_size, target.num_codes, target.max_text_length)
        == (source.text_vocab_size, source.num_codes, source.max_text_length)
    )


def reordered_state_dict(
    state: dict[str, torch.Tensor], source: TokenLayout, target: TokenLayout, n_positions: int
) -> dict[str, torch.Tensor]:
    """`state` (a GPT2LMHeadModel's for `source`) for a model of `target`'s layout with
    `n_positions` positions; every other weight is unchanged."""
    old = state[POSITIONS]
    old_start, new_start = source.max_visual_length, target.max_visual_length
    positions = old[old_start - 1].repeat(n_positions, 1)  # past the old budget: its last
    positions[:old_start] = old[:old_start]
    positions[new_start : new_start + target.text_length] = old[
        old_start : old_start + source.text_length
    ]
    embeddings = state[EMBEDDINGS].clone()
    if target.column_id >= len(embeddings):
        raise ValueError(f"no embedding row for [COL] ({target.column_id}) in {len(embeddings)}")
    embeddings[target.column_id] = embeddings[source.row_id]
    return {**state, POSITIONS: positions, EMBEDDINGS: embeddings, OUTPUT: embeddings}
