"""The GPT-2 reader at scale: memory-mapped token tables, 2 CPU processes (DDP over gloo) training
like one, a killed run resumed exactly, and a missing Apex named in one line."""

from __future__ import annotations

import importlib.util
import pickle
from pathlib import Path

import pytest
import torch
from training_helpers import (
    DRIVER,
    ROOT,
    TINY_GPT2_CONFIG,
    checkpoint_step,
    checkpoint_weights,
    compare_ddp_with_one_process,
    kill_after_first_checkpoint,
    run,
    train_losses,
    write_token_table,
)

from inverse_dalle.config import InverseDalleConfig, OptimizerConfig
from inverse_dalle.data import OCRDataset, load_token_table
from inverse_dalle.lightning_module import build_optimizer, layout_for
from inverse_dalle.token_format import ocr_example
from inverse_dalle.training import train
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.config import load_config
from ocr_common.errors import UserError
from ocr_common.tables import arrow_cache_path, read_table
from vqvae.token_table import string_to_grid

TRAIN_SCRIPT = ROOT / "gpt2" / "src" / "train.py"


def tiny_config(folder: Path, *, uniform: bool = False) -> Path:
    """TINY_GPT2_CONFIG over 32 training and 8 validation rows."""
    write_token_table(folder / "train.parquet", 32, seed=0, uniform=uniform)
    write_token_table(folder / "validation.parquet", 8, seed=1, uniform=uniform)
    path = folder / "tiny.yaml"
    path.write_text(TINY_GPT2_CONFIG.format(folder=folder))
    return path


def test_token_table_is_memory_mapped_and_read_per_row(tmp_path: Path) -> None:
    config = load_config(InverseDalleConfig, tiny_config(tmp_path))
    table = load_token_table(config.data.train_dataset, config.data)
    assert arrow_cache_path(config.data.train_dataset).is_file()
    # Sent to a spawned worker or rank as its path: the receiver maps the file, no rows travel.
    sent = pickle.dumps(table)
    assert len(sent) < 500
    assert list(pickle.loads(sent).texts) == list(table.texts)

    source = read_table(config.data.train_dataset, ("visual_tokens",))
    vocabulary = Vocabulary.build(table.texts)
    layout = layout_for(config, vocabulary)
    dataset = OCRDataset(table, layout, vocabulary)
    assert len(dataset) == len(source) == 32
    for i in (0, 17, 31):
        text_ids = vocabulary.encode(source["text"][i])[: layout.max_text_length]
        expected = ocr_example(layout, string_to_grid(source["visual_tokens"][i]), text_ids)
        assert torch.equal(dataset[i]["input_ids"], expected.input_ids)
    assert dataset.num_truncated == sum(len(t) > 6 for t in source["text"]) > 0


def test_apex_fused_adam_without_apex_is_one_clear_error() -> None:
    if importlib.util.find_spec("apex") is not None:
        pytest.skip("NVIDIA Apex is installed here")
    parameters = [("weight", torch.nn.Parameter(torch.zeros(2, 2)))]
    with pytest.raises(UserError, match=r"apex_fused_adam needs NVIDIA Apex .*use adamw"):
        build_optimizer(parameters, OptimizerConfig(name="apex_fused_adam"))


@pytest.mark.slow
def test_ddp_training_matches_one_process(tmp_path: Path) -> None:
    # Each rank's loss is the mean over its own targets and DDP averages those means: equal to
    # one process's mean over the global batch only when both halves hold as many targets, as in
    # this table of equal-length sequences (any table gives disjoint data and equal weights).
    config = tiny_config(tmp_path, uniform=True)
    compare_ddp_with_one_process("gpt2", config, tmp_path, batch_size=4, steps=4)


PLANNED_STEPS = 10
RESUME_OVERRIDES = [
    *(f"model.{name}=0.1" for name in ("resid_pdrop", "embd_pdrop", "attn_pdrop")),
    "train.epochs=100",
    f"train.max_steps={PLANNED_STEPS}",
    "train.batch_size=4",
    "train.checkpoint_every_n_steps=3",
]


@pytest.mark.slow
def test_killed_training_resumes_exactly(tmp_path: Path, one_thread: None) -> None:
    # Dropout on, 8 steps an epoch: the resumed run must draw the same dropout masks and continue
    # the same shuffled epoch, then shuffle the next one alike.
    config = tiny_config(tmp_path)
    run_dir = tmp_path / "run"
    killed_at = kill_after_first_checkpoint(
        [DRIVER, "gpt2", config, run_dir, *RESUME_OVERRIDES, "--sleep", 0.3], run_dir, tmp_path
    )
    assert 0 < killed_at < PLANNED_STEPS

    resume = ["--run-dir", run_dir, "--resume-from", run_dir / "last.ckpt"]
    run([TRAIN_SCRIPT, config, *RESUME_OVERRIDES, *resume], tmp_path)
    assert checkpoint_step(run_dir / "last.ckpt") == PLANNED_STEPS

    reference = tmp_path / "reference"
    train(load_config(InverseDalleConfig, config, RESUME_OVERRIDES), reference)
    expected, got = train_losses(reference), train_losses(run_dir)
    # metrics.csv holds every step once, those before the kill and those after the resume.
    assert list(got.index) == list(expected.index) == list(range(PLANNED_STEPS))
    torch.testing.assert_close(
        torch.tensor(got.to_numpy()), torch.tensor(expected.to_numpy()), rtol=1e-5, atol=1e-6
    )
    weights = checkpoint_weights(run_dir / "last.ckpt")
    for name, tensor in checkpoint_weights(reference / "last.ckpt").items():
        torch.testing.assert_close(weights[name], tensor, rtol=1e-5, atol=1e-6, msg=name)
