"""Which device a command runs its model on, and what running there fast means.

Every command that runs a model takes `--device` (default: cuda when available, else cpu); an
unavailable or misspelt device is one `error:` line, not a traceback from the first tensor moved.
"""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager, nullcontext

import torch

from ocr_common.errors import UserError


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def add_device_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--device",
        default=None,
        help="cpu, cuda or cuda:N (default: cuda when available, else cpu)",
    )


def resolve_device(name: str | torch.device | None = None) -> torch.device:
    """`name` (None: the default), checked to exist here."""
    try:
        device = torch.device(name if name is not None else default_device())
    except RuntimeError:
        raise UserError(f"device '{name}': not a device name (cpu, cuda, cuda:1, …)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device '{name}': CUDA is not available here; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(
                f"device '{name}': only {torch.cuda.device_count()} CUDA device(s) here"
            )
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise UserError(f"device '{name}': MPS is not available here; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise UserError(f"device '{name}': not supported (cpu, cuda, cuda:N or mps)")
    return device


def lightning_accelerator(device: torch.device) -> tuple[str, list[int] | None]:
    """Lightning's (accelerator, devices) for `device`; devices None where the config decides
    how many (cuda without an index, cpu)."""
    if device.type == "cuda":
        return "gpu", None if device.index is None else [device.index]
    return device.type, None


def allow_tf32(device: torch.device | str) -> None:
    """On CUDA, let float32 matrix products use TF32 tensor cores (~8× fp32's throughput, as
    Lightning advises); a no-op elsewhere. Training calls it; the tokenising and reading commands
    do not, so the VQVAE's nearest-code search there stays full fp32 (near-ties cannot flip)."""
    if torch.device(device).type == "cuda":
        torch.set_float32_matmul_precision("high")


def fast_inference(device: torch.device) -> AbstractContextManager:
    """bf16 autocast on CUDA (tensor-core matrix products); nothing on CPU, where bf16 is slower
    than fp32 on most processors and readings must match the fp32 ones exactly."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()
