"""Continue a reader in a larger token budget, by columns, or both (model.init_from with a larger
data.max_visual_length and/or data.reading_order=columns).

A larger budget lets the VQVAE keep the strokes that a 128-token grid loses in long lines; the
columns of a wide grid need more tokens than its rows (token_format.py). Either way the text starts
later. Everything the source learnt carries over where its meaning does: image positions keep
their embeddings (those past the source's budget copy its last one), text positions move with
the text start, so every grid the source could hold reads exactly as before. By columns, `[COL]`
starts from `[ROW]`'s embedding, since both say "a new line of codes begins" and a vertical line's
rows already run across each glyph as a wide grid's columns now do.
"""

from __future__ import annotations

import torch

from inverse_dalle.token_format import ROWS, TokenLayout

POSITIONS = "transformer.wpe.weight"
EMBEDDINGS = "transformer.wte.weight"
OUTPUT = "lm_head.weight"  # tied to the embeddings


def grows_layout(source: TokenLayout, target: TokenLayout) -> bool:
    """Whether `target` is `source` in a budget at least as large, read in the same order or (from
    rows) by columns, and not `source` itself."""
    same_order = target.reading_order == source.reading_order
    return (
        target != source
        and (same_order or source.reading_order == ROWS)
        and target.max_visual_length >= source.max_visual_length
        and (target.text_vocab_size, target.num_codes, target.max_text_length)
        == (source.text_vocab_size, source.num_codes, source.max_text_length)
    )


def grown_layout_state_dict(
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
    grown = {**state, POSITIONS: positions}
    if target.reading_order != source.reading_order:
        embeddings = state[EMBEDDINGS].clone()
        if target.column_id >= len(embeddings):
            raise ValueError(
                f"no embedding row for [COL] ({target.column_id}) in {len(embeddings)}"
            )
        embeddings[target.column_id] = embeddings[source.row_id]
        grown.update({EMBEDDINGS: embeddings, OUTPUT: embeddings})
    return grown
