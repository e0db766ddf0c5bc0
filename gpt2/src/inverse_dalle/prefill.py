"""A reading prompt through the transformer, computing only what greedy reading then uses.

Reading needs two things from the prompt (image tokens, then `<s>`): the KV cache of every layer
and the last position's hidden state. In the last block, the other positions' outputs (attention
output, residual, MLP) feed nothing: only their keys and values are read. So the last block
computes keys and values everywhere and the rest for the last position only. For the shipped
4-layer reader that is about a third less prompt time on CPU (docs/benchmarks.md), with the same
hidden state and cache up to float rounding (tests/test_prefill.py).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import DynamicCache, GPT2LMHeadModel


def prefill(
    model: GPT2LMHeadModel, prompt: torch.Tensor, positions: torch.Tensor
) -> tuple[torch.Tensor, DynamicCache]:
    """(the final hidden state of each prompt's last position (B, C), the KV cache) for `prompt`
    (B, T) ids at `positions` (B, T). Prompts are unpadded: causal attention needs no mask."""
    transformer = model.transformer
    *lower_blocks, last_block = transformer.h
    hidden = transformer.wte(prompt) + transformer.wpe(positions)
    cache = DynamicCache(config=model.config)
    for block in lower_blocks:
        hidden = block(hidden, cache, None, use_cache=True, position_ids=positions)
    return transformer.ln_f(_last_block_at_last_position(last_block, hidden, cache)), cache


def _last_block_at_last_position(
    block: torch.nn.Module, hidden: torch.Tensor, cache: DynamicCache
) -> torch.Tensor:
    """GPT2Block's computation for the last position, storing every position's keys and values."""
    attention = block.attn
    batch, length, width = hidden.shape
    heads, head_width = attention.num_heads, attention.head_dim
    normed = block.ln_1(hidden)
    weight, bias = attention.c_attn.weight, attention.c_attn.bias  # Conv1D: (in, 3·out)
    keys_values = torch.addmm(bias[width:], normed.flatten(0, 1), weight[:, width:])
    keys, values = keys_values.view(batch, length, 2, heads, head_width).unbind(2)
    keys, values = cache.update(keys.transpose(1, 2), values.transpose(1, 2), attention.layer_idx)
    query = torch.addmm(bias[:width], normed[:, -1], weight[:, :width])
    mixed = F.scaled_dot_product_attention(  # the last position attends to all: no mask
        query.view(batch, heads, 1, head_width), keys, values, scale=attention.scaling
    )
    last = hidden[:, -1] + attention.c_proj(mixed.reshape(batch, width))
    return last + block.mlp(block.ln_2(last))
