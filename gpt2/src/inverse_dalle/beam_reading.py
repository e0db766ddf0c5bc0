"""Beam-search reading: the most probable text among `beams` kept hypotheses, not the greedy one.

Greedy reading commits to each letter; a jamo reader that is unsure of a syllable's first letter
often settles it only two letters later. Beam search keeps the `beams` most probable partial
readings of each image (by summed log-probability, no length penalty, so a reading and its
confidence are comparable with greedy ones). The prompt runs once; its KV cache is then copied per
beam, and a hypothesis that wrote `</s>` stays in the beam unchanged (it competes with the longer
ones at its final score). Costs about `beams`× the decoding steps of greedy reading.
"""

from __future__ import annotations

import torch
from transformers import GPT2LMHeadModel

from inverse_dalle.decoding import (
    Reading,
    finished_reading,
    next_hidden,
    start_reading,
    text_log_probs,
)
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import EOS_ID


@torch.inference_mode()
def read_batch_with_beams(
    model: GPT2LMHeadModel, layout: TokenLayout, visual: list[list[int]], beams: int
) -> list[Reading]:
    device = model.device
    batch = len(visual)
    hidden, cache = start_reading(model, layout, visual)
    cache.select(torch.arange(batch, device=device).repeat_interleave(beams))
    hidden = hidden.repeat_interleave(beams, dim=0)  # (batch·beams, C), beams of a row adjacent
    scores = torch.full((batch, beams), float("-inf"), device=device)
    scores[:, 0] = 0.0  # one live hypothesis per image to start with
    tokens = torch.full((batch * beams, layout.max_text_length + 1), EOS_ID, device=device)
    done = torch.zeros(batch * beams, dtype=torch.bool, device=device)
    for step in range(layout.max_text_length + 1):
        log_probs = text_log_probs(model, layout, hidden)  # (batch·beams, V)
        # a finished hypothesis continues only with (free) </s>: its score stays as it was
        log_probs[done] = float("-inf")
        log_probs[done, EOS_ID] = 0.0
        vocab = log_probs.shape[1]
        totals = (scores.view(-1, 1) + log_probs).view(batch, beams * vocab)
        scores, choice = totals.topk(beams, dim=1)
        parents = (choice // vocab + torch.arange(batch, device=device)[:, None] * beams).view(-1)
        chosen = (choice % vocab).view(-1)
        tokens = tokens[parents]
        tokens[:, step] = chosen
        done = done[parents] | (chosen == EOS_ID)
        if step == layout.max_text_length or bool(done.all()):
            break
        cache.select(parents)
        hidden = next_hidden(model, layout, chosen, step, cache)
    best = tokens.view(batch, beams, -1)[:, 0].tolist()  # topk sorts: beam 0 is the best
    return [
        finished_reading(row, score)
        for row, score in zip(best, scores[:, 0].exp().tolist(), strict=True)
    ]
