"""Training a reader from an exported one (`model.init_from`): weights, vocabulary and checks."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from training_helpers import copy_as_if_from_another_vqvae, run_script

from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.depth_growth import source_positions
from inverse_dalle.exported import load_export
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.training import start_from_export, train
from ocr_common.config import load_config
from ocr_common.errors import UserError
from vqvae.cli import load_tokenizer
from vqvae.tokenize_table import tokenize_table


def _config(pipeline: dict[str, Path], *overrides: str) -> InverseDalleConfig:
    return load_config(
        InverseDalleConfig,
        pipeline["config"],
        [f"model.init_from={pipeline['export']}", *overrides],
    )


def test_start_from_export_copies_every_weight(pipeline: dict[str, Path]) -> None:
    source = load_export(pipeline["export"])
    module = OCRModule.create(_config(pipeline), source.vocabulary)
    start_from_export(module, source)
    expected = source.model.state_dict()
    for name, tensor in module.model.state_dict().items():
        torch.testing.assert_close(tensor, expected[name], msg=name)


def test_training_from_an_export_starts_at_its_loss(pipeline: dict[str, Path], tmp_path) -> None:
    """The first step's loss of a warm start is the export's, below a cold start's."""
    losses = {}
    for name, config in {
        "warm": _config(pipeline, "train.max_steps=1", "train.log_every_n_steps=1"),
        "cold": load_config(
            InverseDalleConfig,
            pipeline["config"],
            ["train.max_steps=1", "train.log_every_n_steps=1"],
        ),
    }.items():
        train(config, tmp_path / name)
        metrics = (tmp_path / name / "logs" / "metrics.csv").read_text().splitlines()
        header = metrics[0].split(",")
        row = next(
            line.split(",") for line in metrics[1:] if line.split(",")[header.index("train/loss")]
        )
        losses[name] = float(row[header.index("train/loss")])
    assert losses["warm"] < losses["cold"]


def test_a_different_model_size_is_one_clear_error(pipeline: dict[str, Path], tmp_path) -> None:
    config = _config(pipeline, "model.n_embd=64", "train.max_steps=1")
    with pytest.raises(UserError, match=r"model.init_from .* differs from model"):
        train(config, tmp_path / "run")


def test_tables_from_another_vqvae_are_refused(pipeline: dict[str, Path], tmp_path) -> None:
    other = copy_as_if_from_another_vqvae(
        pipeline["folder"] / "train.parquet", tmp_path / "other.parquet"
    )
    config = _config(pipeline, f"data.train_dataset={other}", "train.max_steps=1")
    with pytest.raises(UserError, match="VQVAE"):
        train(config, tmp_path / "run")


def test_init_from_and_codebook_embeddings_exclude_each_other(pipeline: dict[str, Path]) -> None:
    with pytest.raises(UserError, match="exclude each other"):
        _config(pipeline, "model.init_code_embeddings=true")


def test_a_deeper_config_grows_the_export_and_computes_the_same(pipeline: dict[str, Path]) -> None:
    source = load_export(pipeline["export"])
    layers = source.model.config.n_layer
    module = OCRModule.create(
        _config(pipeline, f"model.n_layer={2 * layers + 1}"), source.vocabulary
    )
    start_from_export(module, source)
    ids = torch.randint(
        0, source.model.config.vocab_size, (2, 24), generator=torch.Generator().manual_seed(0)
    )
    module.model.eval()
    with torch.no_grad():
        torch.testing.assert_close(module.model(ids).logits, source.model(ids).logits)
    new_blocks = [
        block for block in module.model.transformer.h if not block.mlp.c_proj.weight.any()
    ]
    assert len(new_blocks) == layers + 1
    assert all(not block.attn.c_proj.weight.any() for block in new_blocks)


def test_a_grown_reader_trains_its_new_layers(pipeline: dict[str, Path], tmp_path) -> None:
    source = load_export(pipeline["export"])
    layers = source.model.config.n_layer
    config = _config(pipeline, f"model.n_layer={2 * layers}", "train.max_steps=2")
    train(config, tmp_path / "run")
    state = torch.load(tmp_path / "run" / "last.ckpt", weights_only=False)["state_dict"]
    new_projection = state["model.transformer.h.1.mlp.c_proj.weight"]
    assert new_projection.any()  # moved off zero


def test_growth_places_the_source_blocks_evenly() -> None:
    assert source_positions(4, 8) == [0, 2, 4, 6]
    assert source_positions(4, 6) == [0, 1, 3, 4]
    assert source_positions(3, 3) == [0, 1, 2]
    with pytest.raises(ValueError):
        source_positions(4, 2)


def test_tables_of_a_larger_budget_continue_the_reader_in_it(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 32-token reader on tables its VQVAE made at 48 tokens: with the sizes left unset it
    trains in 48 (layout_growth.py), and its export tokenises image files at 48."""
    _, tokenizer = load_tokenizer(pipeline["folder"] / "vqvae", [], max_visual_length=48)
    table = tmp_path / "train-48.parquet"
    tokenize_table(tokenizer, pipeline["data"] / "train.csv", table, progress=False)
    unset = ["data.max_visual_length=null", "model.n_positions=null", "data.val_dataset=null"]
    config = _config(pipeline, f"data.train_dataset={table}", "train.max_steps=2", *unset)
    train(config, tmp_path / "run")
    export = tmp_path / "export"
    run_script(
        "export.py",
        tmp_path / "run" / "config.yaml",
        tmp_path / "run" / "last.ckpt",
        export,
        monkeypatch=monkeypatch,
    )
    grown = load_export(export)
    assert grown.layout.max_visual_length == 48
    assert grown.model.config.n_positions == 64  # 48 + 6 + 2, rounded up to 16
    ocr = InverseDalleOCR.from_pretrained(export, "cpu")
    assert ocr.tokenizer.max_visual_length == 48
    images = sorted((pipeline["data"] / "images" / "validation").glob("*.png"))[:2]
    assert len(ocr.read_batch(images)) == 2
