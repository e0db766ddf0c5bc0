"""Factorised, l2-normalised vector quantiser (ViT-VQGAN, https://arxiv.org/abs/2110.04627 §3.2).

Latents are projected to a low-dimensional space and l2-normalised, so the nearest code is the one
of highest cosine similarity; this keeps large codebooks (16 384 codes) in use. Gradients pass
straight through (VQ-VAE, https://arxiv.org/abs/1711.00937). Codes unused for a while are restarted
from recent encoder outputs (Jukebox, https://arxiv.org/abs/2005.00341 §3.3; SoundStream,
https://arxiv.org/abs/2107.03312 §3.3).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from vqvae.config import QuantizerConfig


def codebook_perplexity(counts: torch.Tensor) -> torch.Tensor:
    """exp(entropy) of a code histogram: how many codes are in effective use (1 for none)."""
    probs = counts / counts.sum().clamp(min=1)
    return torch.exp(-(probs * torch.log(probs.clamp(min=1e-10))).sum())


@dataclass
class Quantized:
    latents: torch.Tensor  # (B, D, h, w): the decoder's input (straight-through when training)
    indices: torch.Tensor  # (B, h, w) code ids
    loss: torch.Tensor  # codebook + commitment loss
    perplexity: torch.Tensor  # exp(entropy) of this batch's code histogram
    used_fraction: torch.Tensor  # share of the codebook used by this batch


def nearest_codes(vectors: torch.Tensor, codes: torch.Tensor, chunk_elements: int) -> torch.Tensor:
    """argmax_j <vectors_i, codes_j> for (M, f) × (N, f), comparing ≤ chunk_elements pairs at once.

    A batch of 256 f16 crops at N = 16 384 would need a ~2 GB similarity tensor in one go.
    """
    rows_per_chunk = max(1, chunk_elements // codes.shape[0])
    return (
        torch.cat([(chunk @ codes.T).argmax(dim=1) for chunk in vectors.split(rows_per_chunk)])
        if vectors.shape[0]
        else vectors.new_zeros(0, dtype=torch.long)
    )


class FactorizedQuantizer(nn.Module):
    def __init__(self, config: QuantizerConfig) -> None:
        super().__init__()
        self.config = config
        self.project_in = nn.Linear(config.embedding_dim, config.factorized_dim)
        self.project_out = nn.Linear(config.factorized_dim, config.embedding_dim)
        self.codebook = nn.Parameter(torch.randn(config.num_embeddings, config.factorized_dim))
        # EMA of how often each code is picked per step; starts "alive" so codes get a fair chance.
        self.register_buffer("usage", torch.ones(config.num_embeddings))

    def normalized_codebook(self) -> torch.Tensor:
        return F.normalize(self.codebook, dim=-1)

    def lookup(self, indices: torch.Tensor) -> torch.Tensor:
        """Code ids (B, h, w) → decoder latents (B, D, h, w), exactly as forward computes them."""
        return self.project_out(self.normalized_codebook()[indices]).permute(0, 3, 1, 2)

    def forward(self, latents: torch.Tensor) -> Quantized:
        batch, _, height, width = latents.shape
        vectors = F.normalize(self.project_in(latents.permute(0, 2, 3, 1)), dim=-1)  # (B, h, w, f)
        codes = self.normalized_codebook()
        flat = vectors.reshape(-1, vectors.shape[-1])
        with torch.no_grad():
            indices = nearest_codes(
                flat.detach(), codes.detach(), self.config.search_chunk_elements
            )
        indices = indices.view(batch, height, width)
        quantized = codes[indices]  # (B, h, w, f)
        loss = F.mse_loss(quantized, vectors.detach()) + self.config.commitment_weight * F.mse_loss(
            vectors, quantized.detach()
        )
        if torch.is_grad_enabled() and vectors.requires_grad:
            quantized = vectors + (quantized - vectors).detach()  # straight-through estimator
        counts = self._count(indices)
        if self.training and self.config.restart_dead_codes:
            self._restart_dead_codes(counts, flat.detach())
        perplexity = codebook_perplexity(counts)
        return Quantized(
            latents=self.project_out(quantized).permute(0, 3, 1, 2),
            indices=indices,
            loss=loss,
            perplexity=perplexity,
            used_fraction=(counts > 0).float().mean(),
        )

    def _count(self, indices: torch.Tensor) -> torch.Tensor:
        counts = torch.bincount(indices.flatten(), minlength=self.config.num_embeddings).float()
        if self.training and dist.is_available() and dist.is_initialized():
            dist.all_reduce(counts)  # every rank sees the same usage, so restarts agree
        return counts

    @torch.no_grad()
    def _restart_dead_codes(self, counts: torch.Tensor, recent: torch.Tensor) -> None:
        decay = self.config.usage_decay
        self.usage.mul_(decay).add_(counts, alpha=1 - decay)
        dead = (self.usage < self.config.dead_code_threshold).nonzero().squeeze(1)
        if dead.numel() == 0 or recent.shape[0] == 0:
            return
        picks = torch.randint(recent.shape[0], (dead.numel(),), device=recent.device)
        self.codebook.data[dead] = recent[picks].to(self.codebook.dtype)
        self.usage[dead] = 1.0
        if dist.is_available() and dist.is_initialized():
            dist.broadcast(self.codebook.data, src=0)
