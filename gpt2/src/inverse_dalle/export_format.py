"""The export directory's format (no Lightning): file names and `inverse_dalle.json`, written by
export.py (training side) and read by exported.py (the inference side).

An export holds the GPT-2 (config.json, model.safetensors, generation_config.json), the text
vocabulary (vocab.txt, tokenizer.json for plain transformers), `inverse_dalle.json` (the sequence
layout, format versions, order, the hash of the VQVAE that made its tables, the training config)
and optionally the VQVAE in `vqvae/` (vqvae.tokenizer's own export format).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from inverse_dalle.token_format import FORMAT_VERSION, ORDERS, READING_ORDERS, ROWS, TokenLayout
from inverse_dalle.vocabulary import VOCAB_VERSION, Vocabulary
from ocr_common.errors import UserError, check_version
from ocr_common.json_files import read_json

FORMAT_FILE = "inverse_dalle.json"
VOCAB_FILE = "vocab.txt"
VQVAE_DIR = "vqvae"


def format_metadata(
    layout: TokenLayout,
    vocabulary: Vocabulary,
    training_config: dict[str, Any],
    vqvae_sha256: str | None,
    order: str,
) -> dict[str, Any]:
    """The contents of `inverse_dalle.json`."""
    return {
        "format_version": FORMAT_VERSION,
        "vocab_version": VOCAB_VERSION,
        "text_unit": vocabulary.text_unit,
        "text_vocab_size": layout.text_vocab_size,
        "num_visual_tokens": layout.num_codes,
        "max_visual_length": layout.max_visual_length,
        "max_text_length": layout.max_text_length,
        "row_id": layout.row_id,
        "image_pad_id": layout.image_pad_id,
        "code_offset": layout.code_offset,
        "reading_order": layout.reading_order,
        "order": order,
        "vqvae_sha256": vqvae_sha256,
        "training_config": training_config,
    }


def check_metadata(metadata: dict[str, Any], path: Path) -> None:
    """A UserError naming `path` unless this code reads its format, vocabulary and order."""
    for key, supported in (("format_version", FORMAT_VERSION), ("vocab_version", VOCAB_VERSION)):
        check_version(path, key, metadata.get(key), supported)
    if metadata.get("reading_order", ROWS) not in READING_ORDERS:
        raise UserError(
            f"{path}: reading order {metadata['reading_order']}, this code reads {READING_ORDERS}"
        )
    if metadata.get("order") not in ORDERS:
        raise UserError(f"{path}: order {metadata.get('order')}, this code reads {ORDERS}")


def read_metadata(directory: Path) -> dict[str, Any]:
    """The `inverse_dalle.json` of the export in `directory`, checked (check_metadata)."""
    path = directory / FORMAT_FILE
    metadata = read_json(path, "not found (not an exported model directory)")
    check_metadata(metadata, path)
    return metadata


def layout_from_metadata(metadata: dict[str, Any]) -> TokenLayout:
    return TokenLayout(
        metadata["text_vocab_size"],
        metadata["num_visual_tokens"],
        metadata["max_visual_length"],
        metadata["max_text_length"],
        metadata.get("reading_order", ROWS),  # exports before the key read by rows
    )
