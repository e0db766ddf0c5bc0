"""The GPT-2 layout comes from the training table's .meta.json (issue 16): data.num_visual_tokens,
data.max_visual_length and model.n_positions left unset are filled in once, by
inverse_dalle.data.resolve_layout; a declared value is kept, and one the table contradicts is an
error naming both values."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import torch
import yaml
from training_helpers import (
    ROOT,
    TINY_GPT2_CONFIG,
    expect_cli_error,
    run_script,
    write_token_table,
)

from inverse_dalle.config import InverseDalleConfig, derived_n_positions
from inverse_dalle.data import resolve_layout
from inverse_dalle.exported import load_export
from inverse_dalle.lightning_module import layout_for
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.training import train
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.config import ConfigError, load_config
from ocr_common.errors import UserError
from vqvae import VQVAE, ImageTokenizer
from vqvae.config import CoderConfig, ModelConfig, QuantizerConfig
from vqvae.token_table import grid_to_string, read_meta, write_meta
from vqvae.tokenize_table import tokenize_table

SHIPPED = ROOT / "pretrained" / "korean-ocr-tiny"
CONFIGS = ROOT / "gpt2" / "config"
# TINY_GPT2_CONFIG without the three sizes (its tables: 64 codes, a 32-token budget).
UNSET = (
    TINY_GPT2_CONFIG.replace("  num_visual_tokens: 64\n", "")
    .replace("  max_visual_length: 32\n", "")
    .replace("n_positions: 48, ", "")
)


@pytest.fixture
def tables(tmp_path: Path) -> Path:
    """UNSET's config over 32 training and 8 validation rows, without a VQVAE."""
    write_token_table(tmp_path / "train.parquet", 32, seed=0)
    write_token_table(tmp_path / "validation.parquet", 8, seed=1)
    path = tmp_path / "tiny.yaml"
    path.write_text(
        UNSET.format(folder=tmp_path).replace(f"vqvae: {tmp_path}/vqvae", "vqvae: null")
    )
    return path


def _load(config: Path, *overrides: str) -> InverseDalleConfig:
    return load_config(InverseDalleConfig, config, overrides)


def test_the_unset_sizes_are_the_tables(tables: Path) -> None:
    config = _load(tables)
    assert "num_visual_tokens" not in tables.read_text()
    assert (config.data.num_visual_tokens, config.data.max_visual_length) == (None, None)
    assert config.model.n_positions is None
    resolved = resolve_layout(config)
    assert resolved.data.num_visual_tokens == 64  # the table's num_embeddings
    assert resolved.data.max_visual_length == 32  # its max_length
    assert resolved.model.n_positions == 48  # 32 + 6 + 2 = 40, rounded up to a multiple of 16
    assert config.model.n_positions is None  # the loaded config is left as it was
    with pytest.raises(
        ValueError, match=r"data\.num_visual_tokens, data\.max_visual_length, model"
    ):
        layout_for(config, Vocabulary.build(["가"]))  # a model needs the resolved config


def test_declared_sizes_are_kept_and_checked_against_the_table(tables: Path) -> None:
    kept = resolve_layout(
        _load(
            tables, "data.num_visual_tokens=64", "data.max_visual_length=40", "model.n_positions=50"
        )
    )
    assert (kept.data.num_visual_tokens, kept.data.max_visual_length) == (64, 40)  # headroom
    assert kept.model.n_positions == 50
    with pytest.raises(UserError, match=r"has 64 codes, config data.num_visual_tokens is 128"):
        resolve_layout(_load(tables, "data.num_visual_tokens=128"))
    with pytest.raises(UserError, match=r"max_length 32 .* data.max_visual_length 16"):
        resolve_layout(_load(tables, "data.max_visual_length=16"))
    # n_positions must hold the table's budget + max_text_length + 2 = 40
    assert resolve_layout(_load(tables, "model.n_positions=40")).model.n_positions == 40
    with pytest.raises(ConfigError, match=r"model.n_positions \(39\) must be at least .* = 40"):
        resolve_layout(_load(tables, "model.n_positions=39"))


def test_a_source_export_gives_its_own_sizes(tables: Path) -> None:
    """With model.init_from, the unset sizes are the export's (its weights fix them)."""
    layout = TokenLayout(text_vocab_size=9, num_codes=64, max_visual_length=40, max_text_length=6)
    source = SimpleNamespace(
        layout=layout, model=SimpleNamespace(config=SimpleNamespace(n_positions=64))
    )
    resolved = resolve_layout(_load(tables), source)
    assert resolved.data.max_visual_length == 40 and resolved.model.n_positions == 64
    # A source with a smaller budget than the table's grows into the table's (layout_growth.py).
    small = SimpleNamespace(
        layout=TokenLayout(9, 64, 16, 6),
        model=SimpleNamespace(config=SimpleNamespace(n_positions=32)),
    )
    grown = resolve_layout(_load(tables), small)
    assert (grown.data.max_visual_length, grown.model.n_positions) == (32, 48)
    with pytest.raises(UserError, match=r"max_length 32 .* data.max_visual_length 16"):
        resolve_layout(_load(tables, "data.max_visual_length=16"), small)


def test_a_config_without_the_sizes_trains_and_exports(
    tables: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    torch.set_num_threads(1)
    run_dir = tables.parent / "run"
    train(_load(tables, "train.max_steps=2"), run_dir)
    checkpoint = torch.load(run_dir / "last.ckpt", weights_only=True)
    stored = checkpoint["hyper_parameters"]["config"]  # what the checkpoint is rebuilt from
    assert (stored["data"]["num_visual_tokens"], stored["data"]["max_visual_length"]) == (64, 32)
    assert stored["model"]["n_positions"] == 48
    written = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert written["data"]["num_visual_tokens"] == 64 and written["model"]["n_positions"] == 48
    # Exported with the same config, the sizes unset: the checkpoint's are taken.
    export = tables.parent / "export"
    run_script("export.py", tables, run_dir / "last.ckpt", export, monkeypatch=monkeypatch)
    metadata = json.loads((export / "inverse_dalle.json").read_text())
    assert (metadata["num_visual_tokens"], metadata["max_visual_length"]) == (64, 32)
    assert load_export(export).model.config.n_positions == 48
    # A declared value the checkpoint contradicts is still refused, naming both.
    capsys.readouterr()  # the export's progress bars
    expect_cli_error(
        "export.py",
        [tables, run_dir / "last.ckpt", tables.parent / "other", "data.num_visual_tokens=128"],
        "checkpoint trained with data.num_visual_tokens=64, the config says 128",
        monkeypatch,
        capsys,
    )


@pytest.mark.parametrize("name", ["gpt2-tiny.yaml", "gpt2-tiny-signs.yaml"])
def test_the_shipped_configs_resolve_to_the_shipped_layout(name: str, tmp_path: Path) -> None:
    """Without the sizes they used to declare, the configs that trained the shipped reader give
    its layout and n_positions (304) on tables its VQVAE makes at its budget (1 024 codes, 256
    tokens), from nothing or from the reader itself."""
    table = write_token_table(tmp_path / "train.parquet", 4, seed=0)
    meta = read_meta(table)
    meta.num_codes, meta.max_visual_length = 1024, 256
    write_meta(table, meta)
    config = load_config(InverseDalleConfig, CONFIGS / name, [f"data.train_dataset={table}"])
    assert config.data.num_visual_tokens is None and config.model.n_positions is None
    shipped = load_export(SHIPPED)
    source = shipped if config.model.init_from else None
    resolved = resolve_layout(config, source)
    layout = layout_for(resolved, shipped.vocabulary)
    assert layout == shipped.layout
    assert resolved.model.n_positions == shipped.model.config.n_positions == 304
    assert derived_n_positions(256, 40) == 304


@pytest.mark.parametrize("on_the_command_line", [False, True])
def test_an_export_tokenises_images_in_its_tables_budget(
    one_thread: None,
    synthetic_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    on_the_command_line: bool,
) -> None:
    """Tables tokenised in a budget other than the VQVAE's own (`vqvae/src/predict.py
    --max-length`): the export bundles the VQVAE with the tables' budget, so an image file
    becomes exactly the grid its table row holds (before: the VQVAE's own, grids the reader
    never saw). Also when the training command named the tables (`data.train_dataset=…`) and
    the YAML file names others, in the VQVAE's budget: the checkpoint's record decides."""
    torch.manual_seed(0)
    coder = CoderConfig(num_layers=[1, 1, 1], hidden_dims=[8, 8, 8])
    quantizer = QuantizerConfig(num_embeddings=64, embedding_dim=8, factorized_dim=4)
    vqvae = VQVAE(ModelConfig(coder, coder, quantizer))
    ImageTokenizer(vqvae, max_visual_length=16).save_pretrained(tmp_path / "vqvae")
    trained_on = tmp_path / "b32" if on_the_command_line else tmp_path
    budgets = {trained_on: 32, tmp_path: 16} if on_the_command_line else {tmp_path: 32}
    for folder, budget in budgets.items():
        folder.mkdir(exist_ok=True)
        for split in ("train", "validation"):
            tokenize_table(
                ImageTokenizer(vqvae, max_visual_length=budget),
                synthetic_dataset / f"{split}.csv",
                folder / f"{split}.parquet",
                progress=False,
            )
    config = tmp_path / "tiny.yaml"
    config.write_text(TINY_GPT2_CONFIG.format(folder=tmp_path))
    tables = [f"data.{key}_dataset={trained_on / split}.parquet" for key, split in
              (("train", "train"), ("val", "validation"))]  # fmt: skip
    train(_load(config, "train.max_steps=1", *tables), tmp_path / "run")
    export = tmp_path / "export"
    run_script("export.py", config, tmp_path / "run" / "last.ckpt", export, monkeypatch=monkeypatch)
    bundled = json.loads((export / "vqvae" / "config.json").read_text())
    assert bundled["max_length"] == 32
    table = pd.read_parquet(trained_on / "validation.parquet")
    images = [trained_on / path for path in table["img_path"]]  # relative to the table
    grids = InverseDalleOCR.from_pretrained(export, "cpu").tokenize(images)
    assert [grid_to_string(grid) for grid in grids] == list(table["visual_tokens"])
