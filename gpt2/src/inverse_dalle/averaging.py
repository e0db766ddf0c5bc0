"""One reader from several: the parameter-wise mean of exports that share an ancestor.

Readers continued from the same export (other schedules, other data, another option) lie in one
basin of the loss, and their mean usually reads better than each of them: a "model soup"
(Wortsman et al., 2022). Readers trained apart do not share a basin, and their mean reads nothing:
they are refused, as are exports whose layout, vocabulary or architecture differ. The mean
replaces the first export's weights; its VQVAE, vocabulary and configuration are copied.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from inverse_dalle.export_format import (
    FORMAT_FILE,
    VOCAB_FILE,
    VQVAE_DIR,
    layout_from_metadata,
    read_metadata,
)
from ocr_common.atomic import atomic_directory
from ocr_common.errors import UserError
from ocr_common.json_files import read_json, write_json

WEIGHTS_FILE = "model.safetensors"
COPIED_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json")
# Each source's distance from the mean, relative to the mean's norm: 3-7 % for the shipped reader
# and readers continued from its ancestors, 61 % for it and a reader trained from scratch.
MAX_SPREAD = 0.3


@dataclass(frozen=True)
class AveragedReader:
    directory: Path
    num_parameters: int
    spreads: list[float]  # each source's distance from the mean, relative to the mean's norm


def average_exports(
    sources: Sequence[str | os.PathLike], output: str | os.PathLike, overwrite: bool = False
) -> AveragedReader:
    """Write to `output` the reader whose weights are the mean of the `sources`' weights."""
    sources = [Path(source) for source in sources]
    if len(sources) < 2:
        raise UserError("averaging needs at least two exported readers")
    metadata = [read_metadata(source) for source in sources]
    for source, other in zip(sources[1:], metadata[1:], strict=True):
        _check_same_model(sources[0], metadata[0], source, other)
    weights = [load_file(source / WEIGHTS_FILE) for source in sources]
    for source, other in zip(sources[1:], weights[1:], strict=True):
        if {k: v.shape for k, v in other.items()} != {k: v.shape for k, v in weights[0].items()}:
            raise UserError(f"{source}: its weights' names or shapes differ from {sources[0]}'s")
    mean = {name: torch.stack([w[name].float() for w in weights]).mean(0) for name in weights[0]}
    spreads = [_spread(w, mean) for w in weights]
    for source, spread in zip(sources, spreads, strict=True):
        if spread > MAX_SPREAD:
            raise UserError(
                f"{source}: {spread:.0%} of the mean's norm away from the mean; averaging only "
                "helps readers continued from one export (these were trained apart)"
            )
    output = Path(output)
    with atomic_directory(output, FORMAT_FILE, overwrite) as staging:
        for name in (*COPIED_FILES, VOCAB_FILE):
            shutil.copy2(sources[0] / name, staging / name)
        if (sources[0] / VQVAE_DIR).is_dir():
            shutil.copytree(sources[0] / VQVAE_DIR, staging / VQVAE_DIR)
        save_file(
            {name: mean[name].to(tensor.dtype) for name, tensor in weights[0].items()},
            staging / WEIGHTS_FILE,
            metadata={"format": "pt"},
        )
        write_json(staging / FORMAT_FILE, {**metadata[0], "averaged_from": list(map(str, sources))})
        (staging / "README.md").write_text(_card(sources, spreads), "utf-8")
    return AveragedReader(output, sum(t.numel() for t in mean.values()), spreads)


def _check_same_model(first: Path, first_metadata: dict, source: Path, metadata: dict) -> None:
    """A UserError naming what differs unless `source` holds the same model as `first`."""
    differing = [
        key
        for key in ("text_unit", "order", "vqvae_sha256")
        if first_metadata.get(key) != metadata.get(key)
    ]
    if layout_from_metadata(first_metadata) != layout_from_metadata(metadata):
        differing.append("token layout")
    config, other = (read_json(d / "config.json", "not found") for d in (first, source))
    differing += [
        f"config.json {key}"
        for key in sorted(config.keys() - {"dtype", "transformers_version"})
        if config[key] != other.get(key)
    ]
    if (first / VOCAB_FILE).read_bytes() != (source / VOCAB_FILE).read_bytes():
        differing.append(VOCAB_FILE)
    if differing:
        raise UserError(f"{source}: not the same model as {first} ({', '.join(differing)} differ)")


def _spread(weights: dict[str, torch.Tensor], mean: dict[str, torch.Tensor]) -> float:
    distance = sum(float((weights[n].float() - m).square().sum()) for n, m in mean.items())
    norm = sum(float(m.square().sum()) for m in mean.values())
    return (distance / norm) ** 0.5


def _card(sources: list[Path], spreads: list[float]) -> str:
    lines = "\n".join(
        f"- `{source}` ({spread:.1%} from the mean)"
        for source, spread in zip(sources, spreads, strict=True)
    )
    return (
        "# An averaged reader\n\n"
        f"The parameter-wise mean of {len(sources)} readers continued from one export "
        "(`python gpt2/src/average.py`; `inverse_dalle.averaging`):\n\n"
        f"{lines}\n\n"
        "It reads like any export: `python gpt2/src/predict.py THIS_DIR IMAGES`.\n"
    )
