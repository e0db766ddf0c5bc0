"""Shared fixtures: a tiny synthetic dataset, generated once per test session; one torch thread."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from ocr_common.synthetic import synthesize


@pytest.fixture(scope="session")
def synthetic_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with train (32), validation (8) and test-heldout-fonts (8) tables and images."""
    output = tmp_path_factory.mktemp("synthetic")
    synthesize(
        output, num_train=32, num_validation=8, num_test=8, seed=0, workers=1, progress=False
    )
    return output


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Train in the test process on one intra-op thread (see training_helpers.ONE_THREAD)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
