"""Start the GPT-2's image-token embeddings from the VQVAE codebook instead of at random.

A random embedding table treats codes 17 and 503 as unrelated even when they decode to nearly the
same patch (a stroke shifted by a pixel), so the reader has to learn that from data, code by code.
Starting each code's embedding from its place in the quantiser's look-up space (where the VQVAE
decides which code a patch gets) keeps those neighbourhoods from the first step; training still
moves every embedding freely.
"""

from __future__ import annotations

import math

import torch
from transformers import GPT2LMHeadModel

from inverse_dalle.token_format import TokenLayout
from vqvae.token_table import check_codebook
from vqvae.tokenizer import ImageTokenizer


def codebook_vectors(tokenizer: ImageTokenizer) -> torch.Tensor:
    """(num_codes, f): the l2-normalised codes the quantiser matches patches against."""
    return tokenizer.model.quantizer.normalized_codebook().detach().float()


@torch.no_grad()
def initialize_code_embeddings(
    model: GPT2LMHeadModel, layout: TokenLayout, vectors: torch.Tensor, std: float = 0.02
) -> None:
    """Code rows ← the codebook's principal coordinates, other columns of those rows ← 0.

    Rows are scaled to the mean norm of GPT-2's random init (`std`·√n_embd), so codes weigh as
    much against the position embeddings as they would have. The output layer is tied to the
    embeddings, so image-token prediction starts from the same geometry.
    """
    check_codebook("the VQVAE", vectors.shape[0], "the token layout", layout.num_codes, ValueError)
    weight = model.transformer.wte.weight
    centered = vectors - vectors.mean(dim=0)
    u, s, _ = torch.linalg.svd(centered, full_matrices=False)
    rank = min(s.shape[0], weight.shape[1])
    coordinates = u[:, :rank] * s[:rank]  # (N, rank) along the principal axes
    coordinates *= std * math.sqrt(weight.shape[1]) / coordinates.norm(dim=1).mean()
    rows = slice(layout.code_offset, layout.code_offset + layout.num_codes)
    weight[rows] = 0.0
    weight[rows, :rank] = coordinates.to(weight.dtype)
