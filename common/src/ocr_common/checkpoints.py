"""Reading training checkpoints without Lightning: the one `torch.load` guard of the project.

Every checkpoint is loaded with weights_only=True (no arbitrary unpickling) and every fault —
missing, truncated, not a checkpoint — is one UserError line naming the file.
"""

from __future__ import annotations

import os
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ocr_common.errors import UserError, check_version


def load_checkpoint(
    path: str | os.PathLike,
    required: tuple[str, ...] = ("state_dict",),
    *,
    what: str = "checkpoint",
    kind: str = "Lightning checkpoint",
    mmap: bool = False,
) -> dict[str, Any]:
    """The checkpoint's dict, loaded on the CPU; a UserError unless it holds every `required` key.

    `what` names the file in the not-found message, `kind` in the missing-keys one; `mmap` maps
    the file instead of reading it whole (a check that reads only a few keys)."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{path}: {what} not found")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (RuntimeError, pickle.UnpicklingError, EOFError, zipfile.BadZipFile, OSError) as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(f"{path}: not a readable checkpoint ({first})") from None
    missing = [key for key in required if not isinstance(checkpoint, dict) or key not in checkpoint]
    if not isinstance(checkpoint, dict) or missing:
        raise UserError(f"{path}: not a {kind} (no {', '.join(missing)})")
    return checkpoint


def strip_prefix(state_dict: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The entries of a LightningModule's state_dict under `prefix` (e.g. "model."), unprefixed."""
    return {k[len(prefix) :]: v for k, v in state_dict.items() if k.startswith(prefix)}


@dataclass
class ResumePoint:
    """A checkpoint checked for `--resume-from`; Lightning's fit(ckpt_path=…) restores the rest."""

    path: Path
    # Optimizer steps done. Lightning logs a step's metrics (and an epoch-end validation) against
    # the step count before it, so rows with step < global_step belong to this checkpoint's past.
    global_step: int
    hyper_parameters: dict[str, Any]  # what the module was built from (config, vocabulary)


def read_resume_point(path: str | os.PathLike) -> ResumePoint:
    """Check that `path` is a whole Lightning training checkpoint, or fail with one clear line.

    Loaded memory-mapped with weights_only=True, so a bad file costs neither a full read nor
    unpickling arbitrary objects; a truncated zip or pickle is refused here, not deep in fit().
    """
    checkpoint = load_checkpoint(
        path,
        ("state_dict", "loops", "global_step"),
        what="checkpoint to resume from",
        kind="Lightning training checkpoint",
        mmap=True,
    )
    hyper_parameters = checkpoint.get("hyper_parameters")
    return ResumePoint(
        Path(path),
        int(checkpoint["global_step"]),
        hyper_parameters if isinstance(hyper_parameters, dict) else {},
    )


def check_checkpoint_version(
    checkpoint: dict[str, Any],
    source: object,
    key: str,
    supported: int,
    kind: str,
    legacy: int | None = None,
) -> None:
    """The format-version check of a training checkpoint; `legacy` is the version of one written
    before `key` existed (None: such a checkpoint is refused)."""
    check_version(
        source, f"{kind} checkpoint format_version", checkpoint.get(key, legacy), supported
    )


class VersionedCheckpoints:
    """LightningModule mixin (list it first): every checkpoint carries the module's format version
    under `checkpoint_version_key`, and resuming (fit(ckpt_path=…)) checks it. Both stages use it;
    their loaders outside Lightning call `check_checkpoint_version` with the same four values."""

    checkpoint_version_key: str
    checkpoint_format_version: int
    checkpoint_kind: str  # "VQVAE", "GPT-2": how the error names it
    checkpoint_legacy_version: int | None = None

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[self.checkpoint_version_key] = self.checkpoint_format_version

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        check_checkpoint_version(
            checkpoint,
            "cannot resume",
            self.checkpoint_version_key,
            self.checkpoint_format_version,
            self.checkpoint_kind,
            self.checkpoint_legacy_version,
        )
