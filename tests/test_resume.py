"""Exact resume of VQVAE training: SIGKILL a run after a periodic checkpoint, resume it with
`--resume-from`, and compare with the same run left uninterrupted."""

from __future__ import annotations

import os
import runpy
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import torch

from ocr_common.config import load_config
from vqvae.config import VQVAEConfig
from vqvae.training import train

ROOT = Path(__file__).resolve().parents[1]
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

# The run to kill sleeps after each step, so the test can kill it between two checkpoints.
SLOW_DRIVER = """
import sys, time
from lightning.pytorch.callbacks import Callback
from ocr_common.config import load_config
from vqvae.config import VQVAEConfig
from vqvae.training import train

class Slow(Callback):
    def on_train_batch_end(self, *args):
        time.sleep(0.3)

train(load_config(VQVAEConfig, sys.argv[1]), sys.argv[2], callbacks=[Slow()])
"""


# Tiny convolutions on a loaded 2-core machine run ~200× slower with two OpenMP threads than with
# one (1.98 s vs 0.01 s per step measured): every training process here uses one.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def checkpoint_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def train_losses(run: Path) -> pd.Series:
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    rows = metrics.dropna(subset=["train/loss"])
    assert not rows["step"].duplicated().any(), "a step was logged twice"
    return rows.set_index("step")["train/loss"]


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
    driver = tmp_path / "slow_train.py"
    driver.write_text(SLOW_DRIVER)
    run = tmp_path / "run"
    killed = subprocess.Popen(
        [sys.executable, str(driver), str(config_path), str(run)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ONE_THREAD,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run / "last.ckpt").is_file():
            assert killed.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.05)
        time.sleep(0.4)  # past the checkpoint, into the next steps
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
    killed_at = checkpoint_step(run / "last.ckpt")
    assert 0 < killed_at < PLANNED_STEPS

    resumed = subprocess.run(
        [
            sys.executable,
            TRAIN_SCRIPT,
            config_path,
            "--run-dir",
            run,
            "--resume-from",
            run / "last.ckpt",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=ONE_THREAD,
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert checkpoint_step(run / "last.ckpt") == PLANNED_STEPS

    reference = tmp_path / "reference"
    train(load_config(VQVAEConfig, config_path), reference)
    expected = train_losses(reference)
    got = train_losses(run)
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
