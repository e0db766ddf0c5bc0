"""Shared fixtures: a tiny synthetic dataset (once per session), one torch thread, and a tiny
trained GPT-2 reader with its export (once per module that uses it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from training_helpers import TINY_GPT2_CONFIG, run_script

from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.training import train
from ocr_common.config import load_config
from ocr_common.synthetic import synthesize
from vqvae import VQVAE, ImageTokenizer
from vqvae.config import CoderConfig, ModelConfig, QuantizerConfig
from vqvae.tokenize_table import tokenize_table


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with train (32), validation (8) and test-heldout-fonts (8) tables and images."""
    output = tmp_path_factory.mktemp("synthetic")
    synthesize(
        output, num_train=32, num_validation=8, num_test=8, seed=0, workers=1, progress=False
    )
    return output


@pytest.fixture(scope="module")
def one_thread() -> Iterator[None]:
    """Train in the test process on one intra-op thread (see training_helpers.ONE_THREAD), for
    the rest of the module: its module-scoped fixtures train too."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pipeline(
    one_thread: None, synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """A random tiny VQVAE, token tables made with it, a 4-step reader and its export."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("gpt2")
    coder = CoderConfig(num_layers=[1, 1, 1], hidden_dims=[8, 8, 8])
    vqvae = VQVAE(
        ModelConfig(
            coder, coder, QuantizerConfig(num_embeddings=64, embedding_dim=8, factorized_dim=4)
        )
    )
    tokenizer = ImageTokenizer(vqvae, max_visual_length=32)
    tokenizer.save_pretrained(folder / "vqvae")
    for split in ("train", "validation"):
        tokenize_table(
            tokenizer,
            synthetic_dataset / f"{split}.csv",
            folder / f"{split}.parquet",
            progress=False,
        )
    config_path = folder / "tiny.yaml"
    config_path.write_text(TINY_GPT2_CONFIG.format(folder=folder))
    report = train(load_config(InverseDalleConfig, config_path), folder / "run")
    assert report.num_train == 32 and report.num_truncated > 0  # some texts exceed 6 characters
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_script(
            "export.py",
            config_path,
            folder / "run" / "last.ckpt",
            folder / "export",
            monkeypatch=monkeypatch,
        )
    return {
        "folder": folder,
        "config": config_path,
        "ckpt": folder / "run" / "last.ckpt",
        "export": folder / "export",
        "data": synthetic_dataset,
    }
