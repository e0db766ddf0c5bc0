"""An exported directory (src/export.py, src/finetune.py) loaded and checked: reader or drawer."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from transformers import AutoModelForCausalLM, GPT2LMHeadModel

from inverse_dalle.export_format import (
    FORMAT_FILE,
    VOCAB_FILE,
    VQVAE_DIR,
    layout_from_metadata,
    read_metadata,
)
from inverse_dalle.model import use_fused_gelu
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.errors import UserError
from vqvae.tokenizer import ImageTokenizer


@dataclass
class ExportedModel:
    directory: Path
    model: GPT2LMHeadModel
    layout: TokenLayout
    vocabulary: Vocabulary
    tokenizer: ImageTokenizer | None  # the bundled VQVAE, if any
    metadata: dict[str, Any]  # inverse_dalle.json

    @property
    def order(self) -> str:
        return self.metadata["order"]


def load_export(directory: str | os.PathLike, device: str | torch.device = "cpu") -> ExportedModel:
    """Every part of an export, after checking format versions, vocabulary size and order."""
    directory = Path(directory)
    format_path = directory / FORMAT_FILE
    metadata = read_metadata(directory)
    layout = layout_from_metadata(metadata)
    vocabulary = Vocabulary.load(directory / VOCAB_FILE, metadata["text_unit"])
    if len(vocabulary) != layout.text_vocab_size:
        raise UserError(
            f"{directory / VOCAB_FILE}: {len(vocabulary)} tokens, {format_path} says "
            f"{layout.text_vocab_size}"
        )
    try:
        # float32 whatever the stored dtype: a half export is a storage format, not a CPU one.
        model, loading = AutoModelForCausalLM.from_pretrained(
            directory, dtype=torch.float32, output_loading_info=True
        )
    except (OSError, ValueError, RuntimeError, SafetensorError) as error:
        first = (str(error).splitlines() or [type(error).__name__])[0]
        raise UserError(f"{directory}: cannot load the GPT-2 weights ({first})") from None
    # transformers fills weights missing from the file with random ones and only logs it.
    unfit = {
        kind: sorted(map(str, loading[f"{kind}_keys"]))
        for kind in ("missing", "unexpected", "mismatched")
        if loading.get(f"{kind}_keys")
    }
    if unfit:
        details = "; ".join(f"{len(keys)} {kind}, e.g. {keys[0]}" for kind, keys in unfit.items())
        raise UserError(f"{directory}: model.safetensors does not fit config.json ({details})")
    tokenizer = None
    if (directory / VQVAE_DIR).is_dir():
        tokenizer = ImageTokenizer.from_pretrained(directory / VQVAE_DIR)
        tokenizer.model.to(device)
    model = use_fused_gelu(model).to(device).eval()
    return ExportedModel(directory, model, layout, vocabulary, tokenizer, metadata)
