"""What greedy and beam-search reading share: the reading record, the unpadded prompt through the
transformer, one decoding step, and the text-only log-probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import torch
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


def start_reading(
    model: GPT2LMHeadModel, layout: TokenLayout, visual: list[list[int]]
) -> tuple[torch.Tensor, DynamicCache]:
    """(last hidden state (B, C), KV cache) of the prompts `visual` + `<s>`, all of one visual
    length: the padding between image and text is dropped and `<s>` keeps its training
    position."""
    device = model.device
    batch, length = len(visual), len(visual[0])
    prompt = torch.tensor([[*ids, BOS_ID] for ids in visual], device=device)
    positions = torch.tensor([*range(length), layout.max_visual_length], device=device)
    with fast_inference(device):
        return prefill(model, prompt, positions.expand(batch, -1))


def next_hidden(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    tokens: torch.Tensor,
    step: int,
    cache: DynamicCache,
) -> tuple[torch.Tensor, DynamicCache]:
    """(last hidden state (B, C), KV cache) after feeding each row's text token number `step`."""
    position = torch.full(
        (len(tokens), 1), layout.max_visual_length + 1 + step, device=model.device
    )
    with fast_inference(model.device):
        out = model.transformer(
            input_ids=tokens[:, None], position_ids=position, cache=cache, use_cache=True
        )
    return out.last_hidden_state[:, -1], out.cache


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
