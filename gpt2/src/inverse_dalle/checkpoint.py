"""Load a training checkpoint back into an OCRModule: weights_only, strict, one-line errors."""

from __future__ import annotations

import os
from pathlib import Path

from inverse_dalle.lightning_module import (
    CHECKPOINT_FORMAT_VERSION,
    CHECKPOINT_LEGACY_VERSION,
    CHECKPOINT_VERSION_KEY,
    OCRModule,
)
from ocr_common.checkpoints import ResumePoint, check_checkpoint_version, load_checkpoint
from ocr_common.config import ConfigError
from ocr_common.errors import UserError


def check_resume_point(resume: ResumePoint, module: OCRModule) -> None:
    """`--resume-from` must name a GPT-2 checkpoint trained on this vocabulary: the table's
    characters decide the text token ids, so another table's would silently shift them."""
    trained = resume.hyper_parameters.get("vocabulary")
    if "config" not in resume.hyper_parameters or not isinstance(trained, list):
        raise UserError(
            f"{resume.path}: not a GPT-2 checkpoint (no config/vocabulary inside; a VQVAE's?)"
        )
    if trained != module.vocabulary.tokens:
        new = len(set(module.vocabulary.tokens) - set(trained))
        gone = len(set(trained) - set(module.vocabulary.tokens))
        raise UserError(
            f"{resume.path}: trained on another vocabulary ({len(trained)} tokens; this "
            f"table's has {len(module.vocabulary)}, {new} new and {gone} missing): resume with "
            "the tables it was trained on"
        )


def load_module(checkpoint: str | os.PathLike) -> OCRModule:
    """The module a checkpoint was saved from, rebuilt from the config and vocabulary inside it."""
    path = Path(checkpoint)
    state = load_checkpoint(path)
    hparams = state.get("hyper_parameters", {})
    if "config" not in hparams or "vocabulary" not in hparams:
        raise UserError(f"{path}: not a GPT-2 reader checkpoint (no config/vocabulary inside)")
    check_checkpoint_version(
        state,
        path,
        CHECKPOINT_VERSION_KEY,
        CHECKPOINT_FORMAT_VERSION,
        OCRModule.checkpoint_kind,
        CHECKPOINT_LEGACY_VERSION,
    )
    try:
        module = OCRModule(hparams["config"], hparams["vocabulary"])
    except (ConfigError, ValueError) as error:
        raise UserError(f"{path}: config inside the checkpoint is not valid ({error})") from None
    try:
        module.load_state_dict(state["state_dict"], strict=True)
    except RuntimeError as error:
        first = str(error).splitlines()[0]
        raise UserError(f"{path}: weights do not fit the model ({first})") from None
    return module.eval()
