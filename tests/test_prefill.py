"""The reading prompt's shortcut (prefill.py) and the decoding step writing into a preallocated
cache (decoding.TextCache) give what the full transformer gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inverse_dalle.decoding import TextCache, next_hidden, start_reading, text_log_probs
from inverse_dalle.exported import load_export
from inverse_dalle.prefill import prefill
from inverse_dalle.reading import candidate_log_likelihoods
from inverse_dalle.vocabulary import BOS_ID, EOS_ID
from ocr_common.errors import UserError

SHIPPED = Path(__file__).resolve().parents[1] / "pretrained" / "korean-ocr-tiny"


@pytest.fixture(scope="module")
def reader():
    return load_export(SHIPPED).model


def _prompt(batch: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.randint(3, 1000, (batch, length + 1), generator=torch.Generator().manual_seed(0))
    positions = torch.tensor([*range(length), 128]).expand(batch, -1)
    return ids, positions


@pytest.mark.parametrize("length", [1, 37, 126])
def test_prefill_matches_the_full_transformer(reader, length: int) -> None:
    ids, positions = _prompt(3, length)
    with torch.inference_mode():
        full = reader.transformer(input_ids=ids, position_ids=positions, use_cache=True)
        hidden, cache = prefill(reader, ids, positions)
    torch.testing.assert_close(hidden, full.last_hidden_state[:, -1], rtol=0, atol=1e-5)
    for ours, theirs in zip(cache.layers, full.cache.layers, strict=True):
        torch.testing.assert_close(ours.keys, theirs.keys, rtol=0, atol=1e-5)
        torch.testing.assert_close(ours.values, theirs.values, rtol=0, atol=1e-5)


def test_prefill_of_a_one_layer_model(reader) -> None:
    """With a single block, the shortcut is the whole transformer."""
    config = reader.config.__class__(**{**reader.config.to_dict(), "n_layer": 1})
    model = reader.__class__(config).eval()
    state = reader.state_dict()
    model.load_state_dict({k: v for k, v in state.items() if ".h." not in k or ".h.0." in k})
    ids, positions = _prompt(2, 20)
    with torch.inference_mode():
        full = model.transformer(input_ids=ids, position_ids=positions).last_hidden_state[:, -1]
        hidden, _ = prefill(model, ids, positions)
    torch.testing.assert_close(hidden, full, rtol=0, atol=1e-5)


def test_decoding_steps_match_the_full_transformer() -> None:
    """Prompt, then three text tokens through the cache (one row leaving after the first step),
    against the whole sequence through the transformer at once."""
    exported = load_export(SHIPPED)
    model, layout = exported.model, exported.layout
    visual = torch.randint(
        layout.code_offset, layout.vocab_size, (3, 40), generator=torch.Generator().manual_seed(1)
    ).tolist()
    text = torch.tensor([[7, 9, 11], [8, 10, 12], [5, 6, 13]])
    with torch.inference_mode():
        hidden, cache = start_reading(model, layout, visual)
        assert isinstance(cache, TextCache)
        steps = [hidden]
        rows = torch.arange(3)
        for step in range(3):
            if step == 1:  # the middle row has finished: it leaves the batch and the cache
                rows = torch.tensor([0, 2])
                cache.select(rows)
            steps.append(next_hidden(model, layout, text[rows, step], step, cache))
        ids = torch.cat([torch.tensor(visual), torch.full((3, 1), BOS_ID), text], dim=1)
        start = layout.max_visual_length  # where the text starts
        positions = torch.tensor([*range(40), *range(start, start + 4)])
        full = model.transformer(input_ids=ids, position_ids=positions.expand(3, -1))
    expected = full.last_hidden_state[:, 40:]
    torch.testing.assert_close(steps[0], expected[:, 0], rtol=0, atol=1e-5)
    torch.testing.assert_close(steps[1], expected[:, 1], rtol=0, atol=1e-5)
    for step in (2, 3):
        torch.testing.assert_close(steps[step], expected[[0, 2], step], rtol=0, atol=1e-5)


def test_candidate_likelihoods_match_the_full_transformer() -> None:
    """Each grid's prompt once, its cache copied per candidate text of that grid: the same
    log P(text </s> | grid) as the whole sequence through the transformer, for texts of different
    lengths, grids of different lengths and numbers of candidates, in batches split by texts."""
    exported = load_export(SHIPPED)
    model, layout = exported.model, exported.layout
    generator = torch.Generator().manual_seed(2)
    grids = [
        torch.randint(0, layout.num_codes, (rows, 30), generator=generator).tolist()
        for rows in (1, 2, 2, 1)
    ]
    candidates = [[[7, 9, 11, 4], [8], []], [[8]], [], [[3, 3], [7, 9, 11, 4]]]
    scores = candidate_log_likelihoods(model, layout, grids, candidates, batch_size=3)
    assert [len(row) for row in scores] == [3, 1, 0, 2]
    for grid, texts, row in zip(grids, candidates, scores, strict=True):
        visual = layout.visual_ids(grid)
        for text, value in zip(texts, row, strict=True):
            ids = torch.tensor([[*visual, BOS_ID, *text]])
            start = layout.max_visual_length
            positions = [*range(len(visual)), *range(start, start + 1 + len(text))]
            with torch.inference_mode():
                hidden = model.transformer(
                    input_ids=ids, position_ids=torch.tensor([positions])
                ).last_hidden_state[0, len(visual) :]
                log_probs = text_log_probs(model, layout, hidden)
            expected = log_probs[torch.arange(len(text) + 1), [*text, EOS_ID]].sum()
            assert value == pytest.approx(expected.item(), abs=1e-4)
    with pytest.raises(UserError, match="longer than"):
        candidate_log_likelihoods(model, layout, grids[:1], [[[5] * (layout.max_text_length + 1)]])
