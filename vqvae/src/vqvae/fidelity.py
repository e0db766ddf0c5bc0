"""How faithful reconstructions are: pixel errors, codebook usage and text fidelity.

Text fidelity = an independent reader's (Tesseract's) word accuracy on reconstructions divided by
its accuracy on the originals. Pixels hide what matters: a low L1 can still turn 사랑 into 사망.
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from ocr_common.errors import UserError
from ocr_common.images import UnreadableImage, load_image
from ocr_common.metrics import score
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import read_by_orientation
from vqvae.images import psnr, to_pil, to_template_tensor
from vqvae.quantizer import codebook_perplexity
from vqvae.tokenizer import ImageTokenizer


@dataclass
class FidelityReport:
    count: int
    num_skipped: int
    l1: float
    psnr: float
    used_fraction: float  # share of the codebook used on these images
    perplexity: float
    word_accuracy_originals: float
    word_accuracy_reconstructions: float

    @property
    def fidelity(self) -> float:
        if self.word_accuracy_originals == 0:
            return math.nan
        return self.word_accuracy_reconstructions / self.word_accuracy_originals


@torch.inference_mode()
def evaluate_fidelity(
    tokenizer: ImageTokenizer, dataset: str | os.PathLike, limit: int = 300
) -> FidelityReport:
    table = read_table(dataset).head(limit)
    paths = resolve_image_paths(table, dataset)
    orientations = (
        list(table["orientation"]) if "orientation" in table else ["horizontal"] * len(table)
    )
    model = tokenizer.model
    device = next(model.parameters()).device
    counts = torch.zeros(tokenizer.num_codes)
    l1_sum = mse_sum = 0.0
    kept: list[int] = []
    with tempfile.TemporaryDirectory() as folder:
        rebuilt_paths = []
        for row, path in enumerate(paths):
            try:
                image = load_image(path)
            except UnreadableImage:
                continue
            tensor, placement = to_template_tensor(
                image, tokenizer.template(image), model.downsample, model.num_channels
            )
            indices = model.encode(tensor[None].to(device))
            rebuilt = model.decode(indices)[0].cpu()
            counts += torch.bincount(indices.flatten().cpu(), minlength=tokenizer.num_codes)
            l1_sum += float((rebuilt - tensor).abs().mean())
            mse_sum += float(((rebuilt - tensor) ** 2).mean())
            # Crop the padding and scale back, so Tesseract sees what it saw in the original.
            content = to_pil(rebuilt[:, : placement.height, : placement.width]).resize(image.size)
            rebuilt_paths.append(Path(folder) / f"{row}.png")
            content.save(rebuilt_paths[-1])
            kept.append(row)
        if not kept:
            raise UserError(f"{dataset}: no readable images among the first {limit}")
        kept_orientations = [orientations[i] for i in kept]
        references = [table["text"].iloc[i] for i in kept]
        on_originals = read_by_orientation([paths[i] for i in kept], kept_orientations)
        on_rebuilt = read_by_orientation(rebuilt_paths, kept_orientations)
    return FidelityReport(
        count=len(kept),
        num_skipped=len(paths) - len(kept),
        l1=l1_sum / len(kept),
        psnr=psnr(mse_sum / len(kept)),
        used_fraction=float((counts > 0).float().mean()),
        perplexity=float(codebook_perplexity(counts)),
        word_accuracy_originals=score(on_originals, references).word_accuracy,
        word_accuracy_reconstructions=score(on_rebuilt, references).word_accuracy,
    )
