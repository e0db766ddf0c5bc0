"""Grow a trained GPT-2 deeper without changing what it computes (model.init_from + more layers).

A reader that has stopped improving at its size can continue as a deeper one instead of starting
over. The source's blocks keep their order, spread evenly over the new depth; each added block is
a copy of the block before it whose two output projections (attention and MLP) are zero, so it adds
nothing to the residual stream: the grown model reads exactly as its source did, and training
then moves the new blocks away from zero.
"""

from __future__ import annotations

import re

import torch

BLOCK_KEY = re.compile(r"^transformer\.h\.(\d+)\.(.+)$")
OUTPUT_PROJECTIONS = ("attn.c_proj.", "mlp.c_proj.")


def source_positions(source_layers: int, layers: int) -> list[int]:
    """Where each source block goes in the grown stack: spread evenly, the first at 0
    (4 → 8: 0, 2, 4, 6; 4 → 6: 0, 1, 3, 4)."""
    if layers < source_layers:
        raise ValueError(f"cannot grow {source_layers} layers into {layers}")
    return [index * layers // source_layers for index in range(source_layers)]


def grown_state_dict(
    state: dict[str, torch.Tensor], source_layers: int, layers: int
) -> dict[str, torch.Tensor]:
    """`state` (a GPT2LMHeadModel's, `source_layers` blocks) as the state of one with `layers`
    blocks that computes the same function."""
    positions = source_positions(source_layers, layers)
    # each new block copies the source block placed most recently below it
    copied_from = [
        max(i for i, position in enumerate(positions) if position <= layer)
        for layer in range(layers)
    ]
    blocks: dict[int, dict[str, torch.Tensor]] = {index: {} for index in range(source_layers)}
    grown = {}
    for key, tensor in state.items():
        match = BLOCK_KEY.match(key)
        if match:
            blocks[int(match.group(1))][match.group(2)] = tensor
        else:
            grown[key] = tensor.clone()
    for layer, source in enumerate(copied_from):
        is_new = positions[source] != layer
        for name, tensor in blocks[source].items():
            silenced = is_new and name.startswith(OUTPUT_PROJECTIONS)
            grown[f"transformer.h.{layer}.{name}"] = (
                torch.zeros_like(tensor) if silenced else tensor.clone()
            )
    return grown
