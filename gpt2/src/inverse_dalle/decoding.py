"""What greedy and beam-search reading share: the reading record, the unpadded prompt through the
transformer, one decoding step, and the text-only log-probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers import DynamicCache, GPT2LMHeadModel

from inverse_dalle.prefill import prefill
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import BOS_ID, EOS_ID
from ocr_common.devices import fast_inference


@dataclass(frozen=True)
class Reading:
    ids: list[int]  # text token ids, without </s>
    confidence: float  # probability of the chosen tokens, </s> included (their product)
    ended: bool  # False when max_text_length was reached without </s>


class TextCache:
    """Every layer's keys and values (B, heads, capacity, head width), written in place: the
    prompt's, then one position per decoding step. DynamicCache concatenates the whole cache
    at every step; here a step writes one position, and only rows leaving (or beams
    reordering) copy the cache."""

    def __init__(self, prompt_cache: DynamicCache, steps: int) -> None:
        layers = prompt_cache.layers
        batch, heads, self.length, width = layers[0].keys.shape
        shape = (batch, heads, self.length + steps, width)
        self.keys = [layer.keys.new_empty(shape) for layer in layers]
        self.values = [layer.values.new_empty(shape) for layer in layers]
        for keys, values, layer in zip(self.keys, self.values, layers, strict=True):
            keys[:, :, : self.length] = layer.keys
            values[:, :, : self.length] = layer.values

    def select(self, rows: torch.Tensor) -> None:
        """Keep (and order, repeat) the batch rows `rows`."""
        self.keys = [k.index_select(0, rows) for k in self.keys]
        self.values = [v.index_select(0, rows) for v in self.values]

    def write(
        self, layer: int, keys: torch.Tensor, values: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Store one position's (B, heads, head width) keys and values; every position's so far."""
        self.keys[layer][:, :, self.length] = keys
        self.values[layer][:, :, self.length] = values
        end = self.length + 1
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


def start_reading(
    model: GPT2LMHeadModel, layout: TokenLayout, visual: list[list[int]]
) -> tuple[torch.Tensor, TextCache]:
    """(last hidden state (B, C), KV cache with room for the text) of the prompts `visual` +
    `<s>`, all of one visual length: the padding between image and text is dropped and `<s>`
    keeps its training position."""
    prompt, positions = prompt_tensors(layout, visual, model.device)
    with fast_inference(model.device):
        hidden, cache = prefill(model, prompt, positions)
    return hidden, TextCache(cache, layout.max_text_length + 1)


def prompt_tensors(
    layout: TokenLayout, visual: list[list[int]], device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids, positions), both (B, T): the prompts `visual` + `<s>`, all of one visual length, the
    padding between image and text dropped and `<s>` at its training position."""
    length = len(visual[0])
    prompt = torch.tensor([[*ids, BOS_ID] for ids in visual], device=device)
    positions = torch.tensor([*range(length), layout.max_visual_length], device=device)
    return prompt, positions.expand(len(visual), -1)


def next_hidden(
    model: GPT2LMHeadModel, layout: TokenLayout, tokens: torch.Tensor, step: int, cache: TextCache
) -> torch.Tensor:
    """The last hidden state (B, C) after feeding each row's text token number `step` (B,):
    GPT2Block's computation for one position, its keys and values written into `cache`."""
    transformer = model.transformer
    position = layout.max_visual_length + 1 + step
    with fast_inference(model.device):
        hidden = transformer.wte(tokens) + transformer.wpe.weight[position]
        batch, width = hidden.shape
        for index, block in enumerate(transformer.h):
            attention = block.attn
            heads, head_width = attention.num_heads, attention.head_dim
            qkv = attention.c_attn(block.ln_1(hidden)).view(batch, 3, heads, head_width)
            query, keys, values = qkv.unbind(1)
            keys, values = cache.write(index, keys, values)
            mixed = F.scaled_dot_product_attention(  # one query attends to all: no mask
                query[:, :, None], keys, values, scale=attention.scaling
            )
            hidden = hidden + attention.c_proj(mixed.reshape(batch, width))
            hidden = hidden + block.mlp(block.ln_2(hidden))
        cache.length += 1
        return transformer.ln_f(hidden)


def text_log_probs(
    model: GPT2LMHeadModel, layout: TokenLayout, hidden: torch.Tensor
) -> torch.Tensor:
    """Log-probabilities over the text tokens only (the text rows of the tied output layer)."""
    text_weight = model.lm_head.weight[: layout.text_vocab_size]  # (V, C)
    return torch.log_softmax(hidden.float() @ text_weight.float().T, dim=-1)


def finished_reading(row: list[int], confidence: float) -> Reading:
    """The Reading of a decoded row (text ids, then `</s>` unless the length limit came first)."""
    ended = EOS_ID in row
    return Reading(row[: row.index(EOS_ID)] if ended else row, confidence, ended)
