"""ImageTokenizer: images of any aspect ratio ⇄ grids of code ids, loadable without Lightning."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path

import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from ocr_common.atomic import atomic_path
from ocr_common.config import ConfigError, config_from_dict, config_to_dict
from ocr_common.errors import UserError, check_version
from ocr_common.images import to_rgb
from ocr_common.json_files import read_json, write_json
from vqvae.checkpoint import load_from_checkpoint, load_state, weights_sha256
from vqvae.config import ModelConfig
from vqvae.images import (
    PAD_VALUE,
    PIXEL_MEAN,
    PIXEL_STD,
    augmented_view,
    to_pil,
    to_template_tensor,
    trim_padding,
)
from vqvae.model import VQVAE
from vqvae.shapes import choose_template
from vqvae.token_table import check_codes

EXPORT_FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"


class ImageTokenizer:
    def __init__(self, model: VQVAE, max_visual_length: int) -> None:
        # Channels-last is oneDNN's layout for these convolutions: the CPU encoder takes 4.7
        # instead of 8.4 ms per line image (one thread), with the same codes but ~1 in 256 ties.
        self.model = model.eval().to(memory_format=torch.channels_last)
        self.max_visual_length = max_visual_length

    @property
    def num_codes(self) -> int:
        return self.model.num_codes

    @property
    def downsample(self) -> int:
        return self.model.downsample

    @cached_property
    def sha256(self) -> str:
        return weights_sha256(self.model)

    @classmethod
    def from_checkpoint(
        cls, config: ModelConfig, checkpoint: str | os.PathLike, max_visual_length: int
    ) -> ImageTokenizer:
        return cls(load_from_checkpoint(config, checkpoint), max_visual_length)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> ImageTokenizer:
        directory = Path(directory)
        config_path = directory / CONFIG_FILE
        values = read_json(config_path, "not found (not an exported VQVAE directory)")
        check_version(
            config_path,
            "export format_version",
            values.get("format_version"),
            EXPORT_FORMAT_VERSION,
        )
        try:
            model_config = config_from_dict(ModelConfig, values["model"])
        except (KeyError, ConfigError) as error:
            raise UserError(f"{config_path}: bad model config ({error})") from None
        weights = directory / WEIGHTS_FILE
        try:
            state = load_file(weights)
        except FileNotFoundError:
            raise UserError(f"{weights}: not found") from None
        except Exception as error:  # safetensors raises its own error type for corrupt files
            raise UserError(f"{weights}: not readable ({error})") from None
        return cls(load_state(VQVAE(model_config), state, weights), int(values["max_length"]))

    def save_pretrained(self, directory: str | os.PathLike) -> None:
        """model.safetensors + config.json; each written atomically, the config last."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {k: v.contiguous() for k, v in self.model.state_dict().items()}
        with atomic_path(directory / WEIGHTS_FILE) as tmp:
            save_file(state, str(tmp), metadata={"format": "pt"})
        config = {
            "format_version": EXPORT_FORMAT_VERSION,
            "model": config_to_dict(self.model.config),
            "downsample": self.downsample,
            "num_embeddings": self.num_codes,
            "max_length": self.max_visual_length,
            "image_normalization": {"mean": PIXEL_MEAN, "std": PIXEL_STD, "pad_value": PAD_VALUE},
            "sha256": self.sha256,
        }
        write_json(directory / CONFIG_FILE, config)

    def template(self, image: Image.Image) -> tuple[int, int]:
        return choose_template(image.width, image.height, self.max_visual_length)

    def prepare(self, image: Image.Image, view: int = 0) -> torch.Tensor:
        """The model's input for one image (or its test-time `view`, in the image's template):
        small, so a caller can drop a big photo right away."""
        image = to_rgb(image)  # upright first: the template comes from its size
        return to_template_tensor(
            augmented_view(image, view),
            self.template(image),
            self.downsample,
            self.model.num_channels,
        )[0]

    @torch.inference_mode()
    def encode(self, inputs: Sequence[torch.Tensor], batch_size: int = 64) -> list[list[list[int]]]:
        """One grid (rows × cols of code ids) per `prepare`d input, in order; batched by template
        (the input's shape)."""
        by_template: dict[tuple[int, ...], list[int]] = defaultdict(list)
        for position, tensor in enumerate(inputs):
            by_template[tuple(tensor.shape)].append(position)
        grids: list[list[list[int]]] = [[] for _ in inputs]
        device = next(self.model.parameters()).device
        for positions in by_template.values():
            for start in range(0, len(positions), batch_size):
                chunk = positions[start : start + batch_size]
                batch = torch.stack([inputs[p] for p in chunk])
                encoded = self.model.encode(batch.to(device)).tolist()
                for position, grid in zip(chunk, encoded, strict=True):
                    grids[position] = grid
        return grids

    def tokenize(
        self, images: Sequence[Image.Image], batch_size: int = 64
    ) -> list[list[list[int]]]:
        """One grid (rows × cols of code ids) per image, in input order; batched by template."""
        return self.encode([self.prepare(image) for image in images], batch_size)

    @torch.inference_mode()
    def draw(self, grid: Sequence[Sequence[int]], trim: bool = False) -> Image.Image:
        """Decode one grid to an RGB image of the template's pixel size. `trim`: cut the black
        padding off the right and bottom edges (grey ink-on-paper models only: in colour, black
        may be the picture's own)."""
        indices = torch.tensor([list(row) for row in grid], dtype=torch.long)
        if indices.ndim != 2 or indices.numel() == 0:
            raise ValueError("a grid is a non-empty list of equally long rows")
        check_codes(grid, self.num_codes)
        device = next(self.model.parameters()).device
        image = to_pil(self.model.decode(indices[None].to(device))[0])
        return trim_padding(image) if trim and self.model.num_channels == 1 else image
