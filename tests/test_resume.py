"""Exact resume of VQVAE training: SIGKILL a run after a periodic checkpoint, resume it with
`--resume-from`, and compare with the same run left uninterrupted."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest
import torch
from training_helpers import (
    DRIVER,
    ROOT,
    checkpoint_step,
    kill_after_first_checkpoint,
    run,
    train_losses,
)

from ocr_common.config import load_config
from vqvae.config import VQVAEConfig
from vqvae.training import train

TRAIN_SCRIPT = ROOT / "vqvae" / "src" / "train.py"
PLANNED_STEPS = 10
CHECKPOINT_EVERY = 3

CONFIG = """
data: {{train_dataset: {train}, val_dataset: {val}, max_length: 32, max_val_images: 4}}
model:
  encoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  decoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  quantizer: {{num_embeddings: 64, embedding_dim: 16, factorized_dim: 8}}
optim: {{lr: 2.0e-3, warmup_steps: 5}}
train: {{epochs: 100, max_steps: {steps}, batch_size: 4, accelerator: cpu, devices: 1,
         num_workers: 0, validation_interval: 1.0, log_every_n_steps: 1,
         checkpoint_every_n_steps: {every}}}
"""


@pytest.mark.slow
def test_killed_training_resumes_exactly(
    synthetic_dataset: Path, tmp_path: Path, one_thread: None
) -> None:
    config_path = tmp_path / "tiny.yaml"
    config_path.write_text(
        CONFIG.format(
            train=synthetic_dataset / "train.csv",
            val=synthetic_dataset / "validation.csv",
            steps=PLANNED_STEPS,
            every=CHECKPOINT_EVERY,
        )
    )
    run_dir = tmp_path / "run"
    killed_at = kill_after_first_checkpoint(
        [DRIVER, "vqvae", config_path, run_dir, "--sleep", 0.3], run_dir, tmp_path
    )
    assert 0 < killed_at < PLANNED_STEPS

    run(
        [TRAIN_SCRIPT, config_path, "--run-dir", run_dir, "--resume-from", run_dir / "last.ckpt"],
        tmp_path,
    )
    assert checkpoint_step(run_dir / "last.ckpt") == PLANNED_STEPS

    reference = tmp_path / "reference"
    train(load_config(VQVAEConfig, config_path), reference)
    expected = train_losses(reference)
    got = train_losses(run_dir)
    # Every step logged once, before and after the resume point; the resumed steps trained on the
    # same batches with the same weights, optimiser state and learning rate as uninterrupted ones.
    assert list(got.index) == list(expected.index) == list(range(PLANNED_STEPS))
    torch.testing.assert_close(
        torch.tensor(got.to_numpy()), torch.tensor(expected.to_numpy()), rtol=1e-4, atol=1e-5
    )


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_damaged_resume_checkpoint_is_one_line_error(
    damage: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad = tmp_path / "last.ckpt"
    if damage == "truncated":  # a checkpoint-shaped zip cut short, as a kill mid-copy leaves it
        torch.save({"state_dict": {"w": torch.zeros(1000)}, "loops": {}, "global_step": 3}, bad)
        bad.write_bytes(bad.read_bytes()[: bad.stat().st_size // 2])
    else:
        bad.write_bytes(b"\x00junk" * 100)
    config = tmp_path / "empty.yaml"
    config.write_text("train: {accelerator: cpu, devices: 1}\n")
    monkeypatch.setattr(sys, "argv", ["train.py", str(config), "--resume-from", str(bad)])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(TRAIN_SCRIPT), run_name="__main__")
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {bad}: not a readable checkpoint") and "\n" not in err
