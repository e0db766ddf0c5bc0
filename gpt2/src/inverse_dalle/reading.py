"""Greedy reading with the KV cache: the output layer only ever covers the text tokens.

Computing logits over the 16 384 image codes at every step would be wasted work (for a small model
it is most of the step), so each step multiplies the last hidden state by the text rows of the tied
embedding only. Prompts of one batch share their visual length, so no compute goes to padding: the
padding between image and text is dropped and positions are given explicitly, exactly as training
saw them (padding there is masked out of attention). On CUDA the transformer runs in bf16
autocast (tensor cores); the text logits that pick each token stay float32 everywhere.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence

import torch
from transformers import GPT2LMHeadModel

from inverse_dalle.beam_reading import read_batch_with_beams
from inverse_dalle.decoding import (
    Reading,
    finished_reading,
    next_hidden,
    start_reading,
    text_log_probs,
)
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import EOS_ID
from ocr_common.errors import UserError


@torch.inference_mode()
def _read_batch_greedily(
    model: GPT2LMHeadModel, layout: TokenLayout, visual: list[list[int]]
) -> list[Reading]:
    device = model.device
    batch = len(visual)
    hidden, cache = start_reading(model, layout, visual)
    rows = torch.arange(batch, device=device)  # the rows still reading
    tokens = torch.full((batch, layout.max_text_length + 1), EOS_ID, device=device)
    log_confidence = torch.zeros(batch, device=device)
    for step in range(layout.max_text_length + 1):
        log_probs = text_log_probs(model, layout, hidden)
        best = log_probs.argmax(dim=-1)
        log_confidence[rows] += log_probs.gather(1, best[:, None]).squeeze(1)
        tokens[rows, step] = best
        going = best != EOS_ID
        still_reading = int(going.sum())  # one device sync a step (nonzero: one more on a drop)
        if step == layout.max_text_length or not still_reading:
            break
        if still_reading < len(rows):  # a row that wrote </s> leaves the batch and the cache
            kept = going.nonzero().squeeze(1)
            rows, best = rows[kept], best[kept]
            cache.select(kept)
        hidden = next_hidden(model, layout, best, step, cache)
    return [
        finished_reading(row, confidence)
        for row, confidence in zip(tokens.tolist(), log_confidence.exp().tolist(), strict=True)
    ]


def length_batches(visual: list[list[int]], batch_size: int) -> Iterator[list[int]]:
    """Indices of `visual` in batches of one visual length (so no compute goes to padding)."""
    by_length: dict[int, list[int]] = defaultdict(list)
    for index, ids in enumerate(visual):
        by_length[len(ids)].append(index)
    for indices in by_length.values():
        for start in range(0, len(indices), batch_size):
            yield indices[start : start + batch_size]


def read_grids(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    grids: Sequence[list[list[int]]],
    batch_size: int = 64,
    beams: int = 1,
) -> list[Reading]:
    """Readings of `grids`, in order: greedy, or by beam search over `beams` hypotheses."""
    visual = [layout.visual_ids(grid) for grid in grids]
    readings: list[Reading | None] = [None] * len(grids)
    for chunk in length_batches(visual, batch_size):
        prompts = [visual[i] for i in chunk]
        if beams == 1:
            batch_readings = _read_batch_greedily(model, layout, prompts)
        else:
            batch_readings = read_batch_with_beams(model, layout, prompts, beams)
        for index, reading in zip(chunk, batch_readings, strict=True):
            readings[index] = reading
    return readings


@torch.inference_mode()
def log_likelihood_table(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    grids: Sequence[list[list[int]]],
    texts: Sequence[list[int]],
    batch_size: int = 64,
) -> list[list[float]]:
    """log P(text </s> | grid) for every grid (rows) and text (columns), over the text rows of
    the output layer as in reading: how strongly the reader would read each text in each image.
    Each grid's prompt runs once; its cache is copied for every text, which is then fed."""
    longest = max(map(len, texts))
    if longest > layout.max_text_length:
        raise UserError(f"a text longer than the reader's {layout.max_text_length} tokens")
    device = model.device
    steps = longest + 1  # each text, then </s>
    targets = torch.full((len(texts), steps), EOS_ID, device=device)
    for row, ids in enumerate(texts):
        targets[row, : len(ids)] = torch.tensor(ids, device=device)
    counted = torch.arange(steps, device=device) <= torch.tensor(
        [len(ids) for ids in texts], device=device
    ).unsqueeze(1)  # (texts, steps): up to and including </s>
    visual = [layout.visual_ids(grid) for grid in grids]
    table = [[0.0] * len(texts) for _ in grids]
    for chunk in length_batches(visual, max(1, batch_size // len(texts))):
        hidden, cache = start_reading(model, layout, [visual[i] for i in chunk])
        pairs = torch.arange(len(chunk), device=device).repeat_interleave(len(texts))
        cache.select(pairs)
        hidden = hidden[pairs]
        fed, weights = targets.repeat(len(chunk), 1), counted.repeat(len(chunk), 1)
        total = torch.zeros(len(pairs), device=device)
        for step in range(steps):
            log_probs = text_log_probs(model, layout, hidden)
            total += log_probs.gather(1, fed[:, step, None]).squeeze(1) * weights[:, step]
            if step + 1 < steps:
                hidden = next_hidden(model, layout, fed[:, step], step, cache)
        for index, row in zip(chunk, total.view(len(chunk), -1).tolist(), strict=True):
            table[index] = row
    return table


def text_log_likelihoods(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    grids: Sequence[list[list[int]]],
    text_ids: list[int],
    batch_size: int = 64,
) -> list[float]:
    """log P(text </s> | grid) for each grid: how strongly the reader would read `text` in each."""
    return [row[0] for row in log_likelihood_table(model, layout, grids, [text_ids], batch_size)]
