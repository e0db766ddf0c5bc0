"""Loading trained weights without Lightning: checkpoints (weights_only) and a weights hash."""

from __future__ import annotations

import hashlib
import os
import pickle
import zipfile
from pathlib import Path

import torch

from ocr_common.errors import UserError
from vqvae.config import ModelConfig
from vqvae.lightning_module import CHECKPOINT_FORMAT_VERSION
from vqvae.model import VQVAE


def weights_sha256(model: torch.nn.Module) -> str:
    """A hash of the weights (names, shapes, values): equal for a checkpoint and its export."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def load_state(model: VQVAE, state: dict[str, torch.Tensor], source: str | os.PathLike) -> VQVAE:
    """Strict load; a mismatch names the source and the first offending keys."""
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[1:2] or [str(error)]
        raise UserError(
            f"{source}: weights do not match the model config ({first[0].strip()})"
        ) from None
    return model.eval()


def load_from_checkpoint(config: ModelConfig, path: str | os.PathLike) -> VQVAE:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: checkpoint not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{path}: not a readable checkpoint ({first})") from None
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise UserError(f"{path}: not a Lightning checkpoint (no state_dict)")
    version = checkpoint.get("vqvae_format_version")
    if version != CHECKPOINT_FORMAT_VERSION:
        raise UserError(
            f"{path}: VQVAE checkpoint format_version {version}, this code reads "
            f"{CHECKPOINT_FORMAT_VERSION}"
        )
    prefix = "model."
    state = {
        k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)
    }
    return load_state(VQVAE(config), state, path)
