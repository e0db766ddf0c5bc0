"""ONNX files of an exported reader, for onnxruntime (inverse_dalle.onnx_reading).

Three graphs, written into one folder (by default `<export>/onnx/`):

- `reader.onnx`: the GPT-2 over a whole sequence, `input_ids` and `position_ids` (batch, length)
  → `text_logits` (batch, length, text vocabulary): the text rows of the tied output layer only,
  as reading.py computes them. No KV cache: a greedy loop reruns it over the sequence per token.
- `reader_cached.onnx`: the same weights with the KV cache as one `past` tensor in and `present`
  out, → text logits at the last position: a greedy loop feeds it one new token per step.
- `vqvae_encoder.onnx`: a prepared image (batch, channels, height, width) in [-1, 1] → code ids
  (batch, height/p, width/p): encoder, factorised projection and nearest normalised code.

`onnx.json` records the export they came from, the opset and the input/output names.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from transformers import GPT2LMHeadModel

from inverse_dalle.exported import load_export
from inverse_dalle.token_format import IMAGE_TO_TEXT
from ocr_common.atomic import atomic_path
from ocr_common.errors import UserError
from ocr_common.json_files import write_json
from vqvae.model import VQVAE

ONNX_DIR = "onnx"
READER_FILE = "reader.onnx"
CACHED_READER_FILE = "reader_cached.onnx"
ENCODER_FILE = "vqvae_encoder.onnx"
ONNX_INFO_FILE = "onnx.json"
ONNX_FORMAT_VERSION = 1
OPSET = 17


class TextLogits(nn.Module):
    """The GPT-2 → logits over the text tokens at every position (float32)."""

    def __init__(self, model: GPT2LMHeadModel, text_vocab_size: int) -> None:
        super().__init__()
        self.transformer = model.transformer
        self.text_vocab_size = text_vocab_size
        self.lm_head = model.lm_head

    def forward(self, input_ids: torch.Tensor, position_ids: torch.Tensor) -> torch.Tensor:
        # An explicit all-ones mask: without one (and without a cache) transformers reads the jump
        # in positions between image and text as two packed sequences and masks across it.
        hidden = self.transformer(
            input_ids=input_ids,
            position_ids=position_ids,
            attention_mask=torch.ones_like(input_ids),
            use_cache=False,
        ).last_hidden_state
        return hidden @ self.lm_head.weight[: self.text_vocab_size].T


class CachedTextLogits(nn.Module):
    """The GPT-2 with its KV cache as one tensor, for a greedy loop that feeds one token a step:
    (input_ids, position_ids, past (layers, 2, batch, heads, past length, head dim)) → (text
    logits at the last position, present: past with these tokens' keys and values appended).

    GPT-2's eager attention written out over the same weights (transformers' cache classes do
    not trace): query i, at absolute position past+i, attends to keys 0 … past+i."""

    def __init__(self, model: GPT2LMHeadModel, text_vocab_size: int) -> None:
        super().__init__()
        self.transformer = model.transformer
        self.lm_head = model.lm_head
        self.text_vocab_size = text_vocab_size
        self.num_heads = model.config.n_head

    def forward(
        self, input_ids: torch.Tensor, position_ids: torch.Tensor, past: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.transformer
        x = t.wte(input_ids) + t.wpe(position_ids)
        batch, length, width = x.shape
        head_dim = width // self.num_heads
        past_length = past.shape[4]
        queries = torch.arange(length) + past_length
        visible = torch.arange(past_length + length)[None, :] <= queries[:, None]
        bias = torch.zeros(visible.shape).masked_fill(~visible, torch.finfo(torch.float32).min)
        presents = []
        for index, block in enumerate(t.h):
            q, k, v = block.attn.c_attn(block.ln_1(x)).split(width, dim=2)
            q, k, v = (
                y.view(batch, length, self.num_heads, head_dim).transpose(1, 2) for y in (q, k, v)
            )
            k = torch.cat([past[index, 0], k], dim=2)
            v = torch.cat([past[index, 1], v], dim=2)
            presents.append(torch.stack([k, v]))
            weights = torch.softmax((q @ k.transpose(-1, -2)) * head_dim**-0.5 + bias, dim=-1)
            attended = (weights @ v).transpose(1, 2).reshape(batch, length, width)
            x = x + block.attn.c_proj(attended)
            x = x + block.mlp(block.ln_2(x))
        last = t.ln_f(x[:, -1])
        logits = last @ self.lm_head.weight[: self.text_vocab_size].T
        return logits, torch.stack(presents)


class EncodeToCodes(nn.Module):
    """VQVAE.encode as one traceable graph: the quantiser's chunked search (a memory guard for
    big batches on GPU) becomes one matmul and argmax, which picks the same codes."""

    def __init__(self, vqvae: VQVAE) -> None:
        super().__init__()
        self.encoder = vqvae.encoder
        self.quantizer = vqvae.quantizer

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        latents = self.encoder(images)  # (B, D, h, w)
        vectors = F.normalize(self.quantizer.project_in(latents.permute(0, 2, 3, 1)), dim=-1)
        return (vectors @ self.quantizer.normalized_codebook().T).argmax(dim=-1)  # (B, h, w)


@dataclass(frozen=True)
class OnnxExport:
    directory: Path
    reader: Path
    encoder: Path
    info: dict[str, Any]


def _export(module: nn.Module, args: tuple[torch.Tensor, ...], path: Path, **names: Any) -> None:
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        # Harmless here, and checked at several lengths by tests/test_onnx.py: the traced Python
        # comparison in transformers' masking is of the mask's length with the sequence's (always
        # equal: the mask is ones_like(input_ids)); the advanced indexing uses aranges, never
        # negative indices.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*advanced indexing.*")
        # The TorchScript exporter: the dynamo one needs onnxscript and more, for no gain here.
        torch.onnx.export(
            module,
            args,
            str(tmp),
            opset_version=OPSET,
            dynamo=False,
            do_constant_folding=True,
            **names,
        )


def export_onnx(
    export_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None
) -> OnnxExport:
    """Write reader.onnx, vqvae_encoder.onnx and onnx.json of the reader in `export_dir` into
    `out_dir` (default `<export_dir>/onnx`)."""
    export_dir = Path(export_dir)
    out_dir = Path(out_dir) if out_dir is not None else export_dir / ONNX_DIR
    exported = load_export(export_dir, "cpu")
    if exported.order != IMAGE_TO_TEXT:
        raise UserError(f"{export_dir}: order {exported.order}; ONNX export is for readers")
    if exported.tokenizer is None:
        raise UserError(f"{export_dir}: no bundled vqvae/ to export the image encoder from")
    out_dir.mkdir(parents=True, exist_ok=True)
    layout, model = exported.layout, exported.model
    # Eager attention traces to plain MatMul/Softmax; the SDPA path's mask logic does not.
    model.config._attn_implementation = "eager"
    length = 8
    sample_ids = torch.randint(0, layout.vocab_size, (2, length))
    sample_positions = torch.arange(length).expand(2, -1)
    reader_path = out_dir / READER_FILE
    _export(
        TextLogits(model, layout.text_vocab_size).eval(),
        (sample_ids, sample_positions),
        reader_path,
        input_names=["input_ids", "position_ids"],
        output_names=["text_logits"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "length"},
            "position_ids": {0: "batch", 1: "length"},
            "text_logits": {0: "batch", 1: "length"},
        },
    )
    config = model.config
    past = torch.zeros(config.n_layer, 2, 2, config.n_head, 3, config.n_embd // config.n_head)
    cached_path = out_dir / CACHED_READER_FILE
    _export(
        CachedTextLogits(model, layout.text_vocab_size).eval(),
        (sample_ids, sample_positions + 3, past),
        cached_path,
        input_names=["input_ids", "position_ids", "past"],
        output_names=["text_logits", "present"],
        dynamic_axes={
            "input_ids": {0: "batch", 1: "length"},
            "position_ids": {0: "batch", 1: "length"},
            "past": {2: "batch", 4: "past_length"},
            "text_logits": {0: "batch"},
            "present": {2: "batch", 4: "present_length"},
        },
    )
    tokenizer = exported.tokenizer
    p = tokenizer.downsample
    images = torch.rand(2, tokenizer.model.num_channels, 2 * p, 5 * p) * 2 - 1
    encoder_path = out_dir / ENCODER_FILE
    _export(
        EncodeToCodes(tokenizer.model).eval(),
        (images,),
        encoder_path,
        input_names=["images"],
        output_names=["codes"],
        dynamic_axes={
            "images": {0: "batch", 2: "height", 3: "width"},
            "codes": {0: "batch", 1: "rows", 2: "cols"},
        },
    )
    info = {
        "format_version": ONNX_FORMAT_VERSION,
        "source": str(export_dir),
        "vqvae_sha256": tokenizer.sha256,
        "opset": OPSET,
        "torch_version": torch.__version__,
        "reader": {
            "file": READER_FILE,
            "inputs": ["input_ids", "position_ids"],
            "outputs": ["text_logits"],
        },
        "reader_cached": {
            "file": CACHED_READER_FILE,
            "inputs": ["input_ids", "position_ids", "past"],
            "outputs": ["text_logits", "present"],
        },
        "vqvae_encoder": {"file": ENCODER_FILE, "inputs": ["images"], "outputs": ["codes"]},
    }
    write_json(out_dir / ONNX_INFO_FILE, info)
    return OnnxExport(out_dir, reader_path, encoder_path, info)
