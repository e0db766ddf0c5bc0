"""Residual conv encoder: an image (B, 3, H, W) → latents (B, D, H/p, W/p), p = 2^(stages-1)."""

from __future__ import annotations

import torch
from torch import nn

from vqvae.blocks import norm, stage
from vqvae.config import CoderConfig


class Encoder(nn.Module):
    def __init__(self, config: CoderConfig, embedding_dim: int) -> None:
        super().__init__()
        dims = config.hidden_dims
        self.conv_in = nn.Conv2d(config.num_channels, dims[0], 3, padding=1)
        layers: list[nn.Module] = []
        for i, (dim, blocks) in enumerate(zip(dims, config.num_layers, strict=False)):
            in_dim = dims[i - 1] if i > 0 else dims[0]
            if i > 0:  # a strided conv halves the resolution between stages
                layers.append(nn.Conv2d(in_dim, in_dim, 3, stride=2, padding=1))
            layers.append(stage(in_dim, dim, blocks))
        self.stages = nn.Sequential(*layers)
        self.conv_out = nn.Sequential(
            norm(dims[-1]), nn.SiLU(), nn.Conv2d(dims[-1], embedding_dim, 1)
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.conv_out(self.stages(self.conv_in(images)))  # (B, D, h, w)
