"""Reading batches (batch_sizing.py): the device's default size, and on running out of memory a
halved batch that reads the same, kept for the chunks after."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch

from inverse_dalle import InverseDalleOCR
from inverse_dalle.batch_sizing import CPU_BATCH, GPU_BATCH, MemorySizedBatches, default_batch_size
from inverse_dalle.cli import read
from ocr_common.errors import UserError
from vqvae.tokenizer import ImageTokenizer

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_a_gpu_starts_from_a_larger_batch_than_a_cpu() -> None:
    assert default_batch_size(torch.device("cpu")) == CPU_BATCH == 64
    assert default_batch_size(torch.device("cuda")) == GPU_BATCH == 1024


def test_out_of_memory_halves_the_batch_until_it_fits_and_keeps_it() -> None:
    tried = []

    def read(items: list[int], batch_size: int) -> list[int]:
        tried.append(batch_size)
        if batch_size > 100:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return [item * 2 for item in items]

    batches = MemorySizedBatches(1024, torch.device("cpu"))
    assert batches(read, [1, 2, 3]) == [2, 4, 6]
    assert tried == [1024, 512, 256, 128, 64] and batches.batch_size == 64
    assert batches(read, [4]) == [8]
    assert tried[-1] == 64  # the next chunk starts where the last one fitted


def test_out_of_memory_at_one_image_is_one_clear_error() -> None:
    def read(items: list[int], batch_size: int) -> list[int]:
        raise torch.OutOfMemoryError("CUDA out of memory")

    with pytest.raises(UserError, match="out of memory reading one image at a time"):
        MemorySizedBatches(4, torch.device("cpu"))(read, [1])


def test_a_reader_that_runs_out_of_memory_reads_the_same_in_smaller_batches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    images = sorted(EXAMPLES.glob("*.png"))
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    expected = ocr.read_batch(images, batch_size=3)

    encode = ImageTokenizer.encode

    def encode_in_little_memory(self, inputs, batch_size=64):
        if batch_size > 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return encode(self, inputs, batch_size)

    monkeypatch.setattr(ImageTokenizer, "encode", encode_in_little_memory)
    smaller = ocr.read_batch(images, batch_size=16)
    assert [text for text, _ in smaller] == [text for text, _ in expected]
    assert [c for _, c in smaller] == pytest.approx([c for _, c in expected], rel=1e-5)
    assert "reading 2 images at once" in capsys.readouterr().err

    output = tmp_path / "readings.csv"
    read([str(PRETRAINED), str(EXAMPLES / "labels.csv"), "--output", str(output)])
    assert "reading 2 images at once" in capsys.readouterr().err  # 64 → … → 2
    assert list(pd.read_csv(output, keep_default_na=False)["text"]) == [t for t, _ in expected]
