"""The AdamW settings both stages share, AdamW's kernel choice, and gradient clipping that works
with it under every precision.

A fused AdamW (and any optimiser with `_step_supports_amp_scaling`) unscales fp16 gradients inside
its own step, so Lightning neither unscales them before clipping nor lets it clip at all: "does not
allow for gradient clipping because it performs unscaling of gradients internally", even under
bf16-mixed where nothing is scaled. `ClipsFusedOptimizerGradients` clips such optimisers itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.optim import Optimizer


@dataclass
class AdamWConfig:
    """The one optimiser schema: AdamW's settings, as both stages' configs hold them (the VQVAE's
    `optim:` section, GPT-2's `optim.optimizer:`; each subclass sets its defaults)."""

    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-8
    weight_decay: float = 0.0

    def validate(self, section: str = "optim") -> None:
        """ValueError naming `section` (where the keys live in the YAML) for a bad value."""
        if len(self.betas) != 2:
            raise ValueError(f"{section}.betas needs two values")
        if not self.lr > 0:
            raise ValueError(f"{section}.lr must be positive, not {self.lr}")
        if self.eps < 0 or self.weight_decay < 0:
            raise ValueError(f"{section}.eps and weight_decay must not be negative")

    def options(self) -> dict[str, Any]:
        """AdamW's keyword arguments besides the parameters and weight decay."""
        return {"lr": self.lr, "betas": tuple(self.betas), "eps": self.eps}


def use_fused_adamw(parameters: Iterable[torch.nn.Parameter]) -> bool:
    """Fused AdamW (one kernel for every parameter) where it pays: all parameters on CUDA."""
    return all(p.is_cuda for p in parameters)


def handles_unscaling(optimizer: Optimizer) -> bool:
    """Whether the optimiser unscales AMP gradients in its own step (fused AdamW, …)."""
    return bool(getattr(optimizer, "_step_supports_amp_scaling", False))


class ClipsFusedOptimizerGradients:
    """LightningModule mixin (list it before L.LightningModule): clips the gradients of an
    optimiser that unscales internally, after unscaling them here when a GradScaler is at work.

    The scaler records that this optimiser is unscaled, so its step does not unscale again and
    still skips a step whose gradients overflowed. Other optimisers keep Lightning's clipping.
    """

    def configure_gradient_clipping(
        self,
        optimizer: Optimizer,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
    ) -> None:
        if not handles_unscaling(optimizer):
            super().configure_gradient_clipping(  # type: ignore[misc]
                optimizer, gradient_clip_val, gradient_clip_algorithm
            )
            return
        if not gradient_clip_val or gradient_clip_val <= 0:
            return
        precision = self.trainer.precision_plugin  # type: ignore[attr-defined]
        scaler = getattr(precision, "scaler", None)
        if scaler is not None and scaler.is_enabled():
            scaler.unscale_(optimizer)
        if gradient_clip_algorithm == "value":
            precision.clip_grad_by_value(optimizer, gradient_clip_val)
        else:
            precision.clip_grad_by_norm(optimizer, gradient_clip_val)
