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
    prompt_tensors,
    start_reading,
    text_log_probs,
)
from inverse_dalle.prefill import prefill
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import EOS_ID
from ocr_common.devices import fast_inference
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


def pair_batches(
    visual: list[list[int]], counts: Sequence[int], batch_size: int
) -> Iterator[list[int]]:
    """Indices of the prompts with texts to score (`counts` per prompt), in batches of one visual
    length holding at most `batch_size` texts (or a single prompt with more)."""
    for indices in length_batches(visual, len(visual)):
        batch: list[int] = []
        texts = 0
        for index in (i for i in indices if counts[i]):
            if batch and texts + counts[index] > batch_size:
                yield batch
                batch, texts = [], 0
            batch.append(index)
            texts += counts[index]
        if batch:
            yield batch


@torch.inference_mode()
def candidate_log_likelihoods(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    grids: Sequence[list[list[int]]],
    candidates: Sequence[Sequence[list[int]]],
    batch_size: int = 64,
) -> list[list[float]]:
    """log P(text </s> | grid) for each grid and each of its own candidate texts (token ids),
    over the text rows of the output layer as in reading: how strongly the reader would read
    each text in that image. Each grid's prompt runs once, batched with other grids of its
    length; its cache is copied for each of its texts, which are then fed together."""
    if any(len(ids) > layout.max_text_length for texts in candidates for ids in texts):
        raise UserError(f"a text longer than the reader's {layout.max_text_length} tokens")
    device = model.device
    visual = [layout.visual_ids(grid) for grid in grids]
    scores: list[list[float]] = [[] for _ in grids]
    counts = [len(texts) for texts in candidates]
    for chunk in pair_batches(visual, counts, batch_size):
        texts = [ids for index in chunk for ids in candidates[index]]
        steps = max(map(len, texts)) + 1  # each text, then </s>
        fed = torch.full((len(texts), steps), EOS_ID, device=device)
        for row, ids in enumerate(texts):
            fed[row, : len(ids)] = torch.tensor(ids, device=device)
        lengths = torch.tensor([len(ids) for ids in texts], device=device)
        counted = torch.arange(steps, device=device) <= lengths.unsqueeze(1)  # to </s>
        pairs = torch.arange(len(chunk), device=device).repeat_interleave(
            torch.tensor([counts[i] for i in chunk], device=device)
        )
        hidden = _hidden_over_texts(model, layout, [visual[i] for i in chunk], pairs, fed)
        log_probs = text_log_probs(model, layout, hidden).gather(2, fed[..., None]).squeeze(2)
        values = iter((log_probs * counted).sum(1).tolist())
        for index in chunk:
            scores[index] = [next(values) for _ in range(counts[index])]
    return scores


def _hidden_over_texts(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    visual: list[list[int]],
    pairs: torch.Tensor,
    fed: torch.Tensor,
) -> torch.Tensor:
    """The final hidden states (texts, steps, C) that predict each token of `fed` (texts, steps):
    the prompt `visual[pairs[t]]` + `<s>` runs once per prompt, then all the text tokens of all
    the texts in one pass over the prompts' cache (teacher forcing needs no token-by-token loop)."""
    prompt, positions = prompt_tensors(layout, visual, model.device)
    with fast_inference(model.device):
        hidden, cache = prefill(model, prompt, positions)
        hidden = hidden[pairs, None]
        if fed.shape[1] == 1:  # empty texts: only </s> after <s>
            return hidden
        cache.batch_select_indices(pairs)
        text_positions = layout.max_visual_length + 1 + torch.arange(fed.shape[1] - 1)
        after = model.transformer(
            input_ids=fed[:, :-1],
            position_ids=text_positions.to(model.device).expand(len(fed), -1),
            cache=cache,
        ).last_hidden_state
        return torch.cat([hidden, after], dim=1)


def text_log_likelihoods(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    grids: Sequence[list[list[int]]],
    text_ids: list[int],
    batch_size: int = 64,
) -> list[float]:
    """log P(text </s> | grid) for each grid: how strongly the reader would read `text` in each."""
    table = candidate_log_likelihoods(model, layout, grids, [[text_ids]] * len(grids), batch_size)
    return [row[0] for row in table]
