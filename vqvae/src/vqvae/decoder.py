"""Residual conv decoder, the encoder's mirror: latents (B, D, h, w) → images (B, 3, h·p, w·p)."""

from __future__ import annotations

import torch
from torch import nn

from vqvae.blocks import norm, stage
from vqvae.config import CoderConfig


class Decoder(nn.Module):
    def __init__(self, config: CoderConfig, embedding_dim: int) -> None:
        super().__init__()
        dims = list(reversed(config.hidden_dims))
        blocks = list(reversed(config.num_layers))
        self.conv_in = nn.Conv2d(embedding_dim, dims[0], 3, padding=1)
        layers: list[nn.Module] = []
        for i, (dim, count) in enumerate(zip(dims, blocks, strict=False)):
            in_dim = dims[i - 1] if i > 0 else dims[0]
            if i > 0:  # nearest upsampling + conv avoids the checkerboard of transposed convs
                layers += [
                    nn.Upsample(scale_factor=2, mode="nearest"),
                    nn.Conv2d(in_dim, in_dim, 3, padding=1),
                ]
            layers.append(stage(in_dim, dim, count))
        self.stages = nn.Sequential(*layers)
        self.conv_out = nn.Sequential(
            norm(dims[-1]), nn.SiLU(), nn.Conv2d(dims[-1], config.num_channels, 3, padding=1)
        )

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.stages(self.conv_in(latents)))
