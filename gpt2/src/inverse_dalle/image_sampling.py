"""Sampling image tokens with the KV cache: the output layer only covers [ROW], [IMG_PAD] and codes.

Drawing never writes text, so each step multiplies the last hidden state by the image rows of the
tied embedding only (reading.py does the same with the text rows), and no text token can be
sampled. All samples of a batch share one prompt (N drawings of one text), so the padding between
text and image is dropped and positions are given explicitly, exactly as training saw them.

Classifier-free guidance runs the conditional and the unconditional (empty prompt) sequences as
one batch of 2N over one KV cache; the shorter empty prompt is padded and masked, as in training.
"""

from __future__ import annotations

import torch
from transformers import GPT2LMHeadModel
from transformers.generation.logits_process import (
    LogitsProcessorList,
    TemperatureLogitsWarper,
    TopKLogitsWarper,
    TopPLogitsWarper,
)

from inverse_dalle.config import SamplingConfig
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import PAD_ID
from ocr_common.devices import fast_inference


def warpers(settings: SamplingConfig) -> LogitsProcessorList:
    """Transformers' own temperature, top-k and top-p filters, those that change anything."""
    processors = LogitsProcessorList()
    if settings.temperature != 1.0:
        processors.append(TemperatureLogitsWarper(settings.temperature))
    if settings.top_k:
        processors.append(TopKLogitsWarper(settings.top_k))
    if settings.top_p < 1.0:
        processors.append(TopPLogitsWarper(settings.top_p))
    return processors


@torch.inference_mode()
def _sample_batch(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    prompt: list[int],
    image_start: int,
    batch: int,
    processors: LogitsProcessorList,
    generator: torch.Generator,
    can_end: bool,
    guidance: tuple[list[int], float] | None,
) -> list[list[int]]:
    device = model.device
    prompts = [prompt] if guidance is None else [prompt, guidance[0]]
    length = max(len(p) for p in prompts)
    # Rows 0…B-1 draw with the prompt; with guidance, rows B…2B-1 with the empty one.
    ids = torch.tensor(
        [[*p, *[PAD_ID] * (length - len(p)), layout.row_id] for p in prompts], device=device
    ).repeat_interleave(batch, dim=0)
    positions = torch.tensor([*range(length), image_start], device=device).expand(len(ids), -1)
    mask = None  # no padding without guidance: plain causal attention
    if guidance is not None:
        mask = torch.tensor(
            [[1] * len(p) + [0] * (length - len(p)) + [1] for p in prompts], device=device
        ).repeat_interleave(batch, dim=0)
    with fast_inference(device):  # bf16 on CUDA; the logits below stay float32
        out = model.transformer(
            input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True
        )
    hidden, cache = out.last_hidden_state[:, -1], out.cache  # (B or 2B, C)
    image_weight = model.lm_head.weight[layout.row_id : layout.vocab_size].float()  # (V_image, C)
    end = layout.image_pad_id - layout.row_id  # [IMG_PAD]'s row in image_weight
    tokens = torch.full((batch, 1), layout.row_id, device=device)
    ended = torch.zeros(batch, dtype=torch.bool, device=device)
    for step in range(1, layout.max_visual_length):
        logits = hidden.float() @ image_weight.T  # (B or 2B, V_image)
        if guidance is not None:
            conditional, unconditional = logits[:batch], logits[batch:]
            logits = unconditional + guidance[1] * (conditional - unconditional)
        if not can_end:  # a reader never learned to end an image: it fills the budget
            logits[:, end] = -torch.inf
        probs = torch.softmax(processors(tokens, logits), dim=-1)
        sampled = torch.multinomial(probs, 1, generator=generator).squeeze(1) + layout.row_id
        sampled = torch.where(ended, layout.image_pad_id, sampled)
        tokens = torch.cat([tokens, sampled[:, None]], dim=1)
        ended |= sampled == layout.image_pad_id
        if bool(ended.all()) or step == layout.max_visual_length - 1:
            break
        position = torch.full((len(ids), 1), image_start + step, device=device)
        if mask is not None:
            mask = torch.cat([mask, mask.new_ones(len(mask), 1)], dim=1)
        with fast_inference(device):
            out = model.transformer(
                input_ids=sampled.repeat(len(prompts))[:, None],
                attention_mask=mask,
                position_ids=position,
                cache=cache,
                use_cache=True,
            )
        hidden, cache = out.last_hidden_state[:, -1], out.cache
    end_id = layout.image_pad_id
    return [row[: row.index(end_id)] if end_id in row else row for row in tokens.tolist()]


def sample_image_tokens(
    model: GPT2LMHeadModel,
    layout: TokenLayout,
    prompt: list[int],
    image_start: int,
    num_samples: int,
    settings: SamplingConfig,
    seed: int,
    batch_size: int = 16,
    can_end: bool = True,
    empty_prompt: list[int] | None = None,
) -> list[list[int]]:
    """`num_samples` token sequences, each `[ROW] …` up to `max_visual_length` tokens, end dropped.

    `prompt` is what precedes the image (`<s> text </s>`, or nothing for an unconditional image
    from a reader) and `image_start` the position of the first [ROW]. `can_end`: whether [IMG_PAD]
    may end an image (only a text-to-image model learned to). `empty_prompt` (`<s> </s>`) is the
    unconditional prompt of `settings.guidance_scale`; a scale of 1 never runs it. Same seed and
    batch size, same samples.
    """
    guidance = None
    if settings.guidance_scale != 1.0:
        if empty_prompt is None:
            raise ValueError("guidance_scale other than 1 needs an empty_prompt")
        guidance = (empty_prompt, settings.guidance_scale)
    generator = torch.Generator(device=model.device).manual_seed(seed)
    processors = warpers(settings)
    samples: list[list[int]] = []
    for start in range(0, num_samples, batch_size):
        batch = min(batch_size, num_samples - start)
        samples += _sample_batch(
            model, layout, prompt, image_start, batch, processors, generator, can_end, guidance
        )
    return samples
