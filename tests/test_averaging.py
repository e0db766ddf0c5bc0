"""Averaging readers (inverse_dalle.averaging, src/average.py): the mean of the weights, written
as an export that reads; exports of other models or trained apart are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file
from training_helpers import expect_cli_error, run_script

from inverse_dalle import InverseDalleOCR
from inverse_dalle.averaging import average_exports
from ocr_common.errors import UserError
from ocr_common.tables import read_table

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = sorted((REPO / "examples").glob("*.png"))


def _copy_with_weights(tmp_path: Path, name: str, scale: float, seed: int) -> Path:
    """A copy of the shipped reader whose weights are moved by `scale` × their own spread."""
    copy = tmp_path / name
    shutil.copytree(SHIPPED, copy)
    generator = torch.Generator().manual_seed(seed)
    weights = load_file(copy / "model.safetensors")
    for key, tensor in weights.items():
        noise = torch.randn(tensor.shape, generator=generator) * tensor.float().std() * scale
        weights[key] = (tensor.float() + noise).to(tensor.dtype)
    save_file(weights, copy / "model.safetensors", metadata={"format": "pt"})
    return copy


def test_the_average_holds_the_mean_weights_and_reads(tmp_path, monkeypatch, capsys) -> None:
    moved = _copy_with_weights(tmp_path, "moved", 0.05, seed=0)
    output = tmp_path / "averaged"
    run_script("average.py", SHIPPED, moved, "--output", output, monkeypatch=monkeypatch)
    assert capsys.readouterr().out.startswith("averaged 2 readers (2.08 M parameters")
    shipped = load_file(SHIPPED / "model.safetensors")
    other = load_file(moved / "model.safetensors")
    averaged = load_file(output / "model.safetensors")
    for key, tensor in averaged.items():
        assert tensor.dtype == shipped[key].dtype
        expected = (shipped[key].float() + other[key].float()) / 2
        torch.testing.assert_close(tensor.float(), expected, rtol=1e-3, atol=1e-3)
    metadata = json.loads((output / "inverse_dalle.json").read_text())
    assert metadata["averaged_from"] == [str(SHIPPED), str(moved)]
    assert (output / "vqvae").is_dir() and "moved" in (output / "README.md").read_text()
    readings = InverseDalleOCR.from_pretrained(output, "cpu").read_batch(EXAMPLES)
    labels = read_table(REPO / "examples" / "labels.csv")
    truth = dict(zip(labels["img_path"], labels["text"], strict=True))
    texts = [text for text, _ in readings]
    right = sum(truth[path.name] == text for path, text in zip(EXAMPLES, texts, strict=True))
    assert right >= 7  # the shipped reader reads 8 of the 12


def test_a_reader_averaged_with_itself_reads_as_it_does(tmp_path) -> None:
    averaged = average_exports([SHIPPED, SHIPPED], tmp_path / "self").directory
    for key, tensor in load_file(averaged / "model.safetensors").items():
        torch.testing.assert_close(tensor, load_file(SHIPPED / "model.safetensors")[key])
    shipped = InverseDalleOCR.from_pretrained(SHIPPED, "cpu").read_batch(EXAMPLES)
    assert InverseDalleOCR.from_pretrained(averaged, "cpu").read_batch(EXAMPLES) == shipped


def test_other_models_and_readers_trained_apart_are_refused(tmp_path, monkeypatch, capsys) -> None:
    with pytest.raises(UserError, match="at least two"):
        average_exports([SHIPPED], tmp_path / "one")
    with pytest.raises(UserError, match="not an exported model"):
        average_exports([SHIPPED, tmp_path], tmp_path / "none")
    longer = tmp_path / "longer"
    shutil.copytree(SHIPPED, longer)
    metadata = json.loads((longer / "inverse_dalle.json").read_text())
    (longer / "inverse_dalle.json").write_text(json.dumps({**metadata, "max_text_length": 50}))
    with pytest.raises(UserError, match="token layout differ"):
        average_exports([SHIPPED, longer], tmp_path / "layout")
    apart = _copy_with_weights(tmp_path, "apart", 1.0, seed=1)  # as far as a fresh training
    expect_cli_error(
        "average.py",
        [SHIPPED, apart, "--output", tmp_path / "apart-mean"],
        "trained apart",
        monkeypatch,
        capsys,
    )
    assert not (tmp_path / "apart-mean").exists()
