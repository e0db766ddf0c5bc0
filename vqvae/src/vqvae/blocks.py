"""Building blocks shared by the encoder and decoder."""

from __future__ import annotations

import itertools

import torch
from torch import nn


def norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(num_groups=min(32, channels // 4) or 1, num_channels=channels, eps=1e-6)


class ResidualBlock(nn.Module):
    """norm → SiLU → conv, twice, plus a (projected) skip connection."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            norm(in_channels),
            nn.SiLU(),
            nn.Conv2d(in_channels, out_channels, 3, padding=1),
            norm(out_channels),
            nn.SiLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        self.skip = (
            nn.Identity()
            if in_channels == out_channels
            else nn.Conv2d(in_channels, out_channels, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.skip(x) + self.body(x)


def stage(in_channels: int, out_channels: int, num_blocks: int) -> nn.Sequential:
    """num_blocks residual blocks, the first one changing the channel count."""
    channels = [in_channels] + [out_channels] * num_blocks
    return nn.Sequential(*(ResidualBlock(a, b) for a, b in itertools.pairwise(channels)))
