"""Loading trained weights without Lightning: checkpoints (weights_only) and a weights hash."""

from __future__ import annotations

import hashlib
import os

import torch

from ocr_common.checkpoints import check_checkpoint_version, load_checkpoint, strip_prefix
from ocr_common.errors import UserError
from vqvae.config import ModelConfig
from vqvae.model import VQVAE

# Written into every VQVAE training checkpoint (VQVAETask.on_save_checkpoint) under this key.
CHECKPOINT_FORMAT_VERSION = 1
CHECKPOINT_VERSION_KEY = "vqvae_format_version"


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
    checkpoint = load_checkpoint(path)
    check_checkpoint_version(
        checkpoint, path, CHECKPOINT_VERSION_KEY, CHECKPOINT_FORMAT_VERSION, "VQVAE"
    )
    return load_state(VQVAE(config), strip_prefix(checkpoint["state_dict"], "model."), path)
