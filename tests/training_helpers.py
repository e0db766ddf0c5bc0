"""What the distributed and resume tests of both models share: training in subprocesses on one
thread each (through tests/train_driver.py), killing a run after a checkpoint, reading its
checkpoints and metrics, and a tiny GPT-2 with token tables made without a VQVAE; and running
gpt2/src entry scripts in-process (the GPT-2 pipeline and generation tests)."""

from __future__ import annotations

import os
import random
import runpy
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from ocr_common.hangul import ksx1001_hangul
from ocr_common.tables import write_table
from vqvae.shapes import maximal_templates
from vqvae.token_table import TokenTableMeta, grid_to_string, read_meta, write_meta

ROOT = Path(__file__).resolve().parents[1]
DRIVER = Path(__file__).with_name("train_driver.py")
GPT2_SRC = ROOT / "gpt2" / "src"
# Tiny models on a loaded 2-core machine run ~200× slower with two OpenMP threads than with one
# (1.98 s vs 0.01 s per VQVAE step measured): every training process here uses one.
ONE_THREAD = {**os.environ, "OMP_NUM_THREADS": "1"}

TINY_GPT2_CONFIG = """
data:
  train_dataset: {folder}/train.parquet
  val_dataset: {folder}/validation.parquet
  vqvae: {folder}/vqvae
  num_visual_tokens: 64
  max_visual_length: 32
  max_text_length: 6
  max_val_samples: 8
model: {{n_positions: 48, n_embd: 32, n_layer: 2, n_head: 2, resid_pdrop: 0.0, embd_pdrop: 0.0,
         attn_pdrop: 0.0}}
optim:
  optimizer: {{lr: 3.0e-3}}
  scheduler: {{name: constant_with_warmup, num_warmup_steps: 2, num_training_steps: 100}}
train: {{epochs: 1, max_steps: 4, batch_size: 8, accelerator: cpu, devices: 1, num_workers: 0,
         validation_interval: 2, log_every_n_steps: 1}}
"""


def run_script(name: str, *args: object, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run gpt2/src/`name` in this process with `args` as its command line."""
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    runpy.run_path(str(GPT2_SRC / name), run_name="__main__")


def expect_cli_error(
    script: str, args: list, match: str, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """The script exits with status 2 and one `error: …` line containing `match`."""
    with pytest.raises(SystemExit) as exit_info:
        run_script(script, *args, monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and match in error and "\n" not in error, error


def copy_as_if_from_another_vqvae(table: Path, copy: Path) -> Path:
    """`copy` holds the same rows as `table`, but its .meta.json names another VQVAE."""
    shutil.copy(table, copy)
    meta = read_meta(table)
    meta.vqvae_sha256 = "0" * 64
    write_meta(copy, meta)
    return copy


def run(args: list[object], cwd: Path) -> subprocess.CompletedProcess:
    """Run `python *args` on one thread; fail the test with its stderr if it fails."""
    result = subprocess.run(
        [sys.executable, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=ONE_THREAD
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def checkpoint_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=True)["global_step"])


def checkpoint_weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]


def train_losses(run_dir: Path) -> pd.Series:
    """The run's `train/loss` by step, checking that no step was logged twice."""
    metrics = pd.read_csv(run_dir / "logs" / "metrics.csv")
    rows = metrics.dropna(subset=["train/loss"])
    assert not rows["step"].duplicated().any(), "a step was logged twice"
    return rows.set_index("step")["train/loss"]


def kill_after_first_checkpoint(args: list[object], run_dir: Path, cwd: Path) -> int:
    """Start `python *args` (a run that sleeps after each step), SIGKILL it a little after its
    first `last.ckpt` appears, and return the step that checkpoint holds."""
    killed = subprocess.Popen(
        [sys.executable, *map(str, args)],
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=ONE_THREAD,
    )
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "last.ckpt").is_file():
            assert killed.poll() is None, "training ended before its first checkpoint"
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.05)
        time.sleep(0.4)  # past the checkpoint, into the next steps
    finally:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
    return checkpoint_step(run_dir / "last.ckpt")


def compare_ddp_with_one_process(
    model: str, config: Path, folder: Path, batch_size: int, steps: int
) -> None:
    """Train `model` for `steps` as 2 DDP processes with `batch_size` each and as 1 process with
    twice that, recording both (train_driver --record), and check that the ranks trained on
    disjoint halves of the single process's global batches, ended with identical weights, and
    that their mean loss was its loss at every step."""
    for name, overrides in {
        "ddp": ["train.strategy=ddp", "train.devices=2", f"train.batch_size={batch_size}"],
        "single": [f"train.batch_size={2 * batch_size}"],
    }.items():
        (folder / name).mkdir()
        record = ["--record", folder / name]
        run([DRIVER, model, config, folder / name / "run", *overrides, *record], folder)

    rank0, rank1 = (torch.load(folder / "ddp" / f"rank{r}.pt") for r in (0, 1))
    single = torch.load(folder / "single" / "rank0.pt")
    assert len(single["losses"]) == len(rank0["losses"]) == len(rank1["losses"]) == steps
    for step in range(steps):
        seen0, seen1 = set(rank0["indices"][step]), set(rank1["indices"][step])
        assert not seen0 & seen1, f"step {step}: both ranks got items {seen0 & seen1}"
        # Together the ranks trained on exactly the single process's global batch.
        assert seen0 | seen1 == set(single["indices"][step])
    for name, tensor in rank0["state"].items():
        assert torch.equal(tensor, rank1["state"][name]), f"{name} differs between ranks"
    mean_ddp = torch.tensor([rank0["losses"], rank1["losses"]]).mean(dim=0)
    torch.testing.assert_close(mean_ddp, torch.tensor(single["losses"]), rtol=1e-4, atol=1e-5)


def write_token_table(path: Path, rows: int, seed: int, *, uniform: bool = False) -> Path:
    """A token table as tokenize_table writes it (64 codes, 32-token budget, with .meta.json) of
    random grids and 1–8 syllable texts. `uniform`: every grid one template and every text 5
    syllables, so every sequence has the same number of loss targets."""
    rng = random.Random(seed)
    templates = maximal_templates(32)
    syllables = ksx1001_hangul()[:100]
    grids, texts = [], []
    for _ in range(rows):
        height, width = templates[1] if uniform else rng.choice(templates)
        grids.append(grid_to_string([rng.choices(range(64), k=width) for _ in range(height)]))
        texts.append("".join(rng.choices(syllables, k=5 if uniform else rng.randint(1, 8))))
    table = pd.DataFrame(
        {"img_path": [f"{i}.png" for i in range(rows)], "text": texts, "visual_tokens": grids}
    )
    write_table(table, path)
    write_meta(path, TokenTableMeta(64, 4, 32, "0" * 64, rows, 0, 0.0))
    return path
