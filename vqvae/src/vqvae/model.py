"""The VQVAE: encoder → factorised quantiser → decoder, with the encode/decode pair for tokens."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from vqvae.config import ModelConfig
from vqvae.decoder import Decoder
from vqvae.encoder import Encoder
from vqvae.quantizer import FactorizedQuantizer, Quantized


@dataclass
class Reconstruction:
    images: torch.Tensor  # (B, C, H, W) in [-1, 1] (unclamped while training)
    quantized: Quantized


class VQVAE(nn.Module):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        config.validate()
        self.config = config
        self.encoder = Encoder(config.encoder, config.quantizer.embedding_dim)
        self.quantizer = FactorizedQuantizer(config.quantizer)
        self.decoder = Decoder(config.decoder, config.quantizer.embedding_dim)

    @property
    def downsample(self) -> int:
        return self.config.downsample

    @property
    def num_channels(self) -> int:
        """1: grey `ink_on_paper` input, 3: RGB (see vqvae.images.to_template_tensor)."""
        return self.config.encoder.num_channels

    @property
    def num_codes(self) -> int:
        return self.config.quantizer.num_embeddings

    def _check_size(self, images: torch.Tensor) -> None:
        p = self.downsample
        if images.shape[-1] % p or images.shape[-2] % p:
            raise ValueError(f"image size {tuple(images.shape[-2:])} is not a multiple of {p}")

    def forward(self, images: torch.Tensor) -> Reconstruction:
        self._check_size(images)
        quantized = self.quantizer(self.encoder(images))
        return Reconstruction(self.decoder(quantized.latents), quantized)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """(B, C, H, W) in [-1, 1] → code ids (B, H/p, W/p)."""
        self._check_size(images)
        images = images.contiguous(memory_format=torch.channels_last)  # the weights' layout
        return self.quantizer(self.encoder(images)).indices

    def decode(self, indices: torch.Tensor) -> torch.Tensor:
        """Code ids (B, h, w) → images (B, C, h·p, w·p) in [-1, 1]."""
        return self.decoder(self.quantizer.lookup(indices)).clamp(-1, 1)
