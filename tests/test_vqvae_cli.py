"""The VQVAE entry points end to end on tiny images: train, predict, export, bad inputs."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image

from ocr_common.config import load_config
from ocr_common.errors import UserError
from ocr_common.images import load_image
from ocr_common.tables import read_table
from vqvae import ImageTokenizer
from vqvae.config import VQVAEConfig
from vqvae.token_table import read_meta, string_to_grid
from vqvae.training import train

VQVAE_DIR = Path(__file__).resolve().parents[1] / "vqvae"

TINY_CONFIG = """
data:
  train_dataset: {train}
  val_dataset: {val}
  max_length: 32
model:
  encoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  decoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  quantizer: {{num_embeddings: 64, embedding_dim: 16, factorized_dim: 8}}
optim: {{lr: 2.0e-3}}
train: {{epochs: 1, max_steps: 4, batch_size: 8, accelerator: cpu, devices: 1, num_workers: 0,
         validation_interval: 2, log_every_n_steps: 1}}
"""


def run_script(name: str, *args: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [name, *map(str, args)])
    runpy.run_path(str(VQVAE_DIR / "src" / name), run_name="__main__")


@pytest.fixture(scope="module")
def trained(synthetic_dataset: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("vqvae")
    config_path = folder / "tiny.yaml"
    config_path.write_text(
        TINY_CONFIG.format(
            train=synthetic_dataset / "train.csv", val=synthetic_dataset / "validation.csv"
        )
    )
    config = load_config(VQVAEConfig, config_path)
    report = train(config, folder / "run")
    assert report.images_per_second > 0 and 0 <= report.padded_pixel_share < 1
    return {"config": config_path, "ckpt": folder / "run" / "last.ckpt", "folder": folder}


def test_training_writes_checkpoint_and_reconstruction_grid(trained: dict[str, Path]) -> None:
    run = trained["ckpt"].parent
    assert trained["ckpt"].is_file()
    grids = list((run / "reconstructions").glob("*.png"))
    assert grids and Image.open(grids[0]).width > 0
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    assert {"val/l1", "val/psnr", "val/used_fraction", "train/perplexity"} <= set(metrics.columns)


def test_predict_cli_writes_token_table_and_skips_unreadable(
    trained: dict[str, Path],
    synthetic_dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    folder = trained["folder"] / "predict"
    shutil.copytree(synthetic_dataset, folder)
    table = pd.read_csv(folder / "validation.csv", keep_default_na=False)
    (folder / "broken.png").write_bytes(b"not a png")
    broken = {**table.iloc[0].to_dict(), "img_path": "broken.png"}
    pd.concat([table, pd.DataFrame([broken])]).to_csv(folder / "with-broken.csv", index=False)
    output = trained["folder"] / "out" / "tokens.parquet"
    run_script(
        "predict.py",
        trained["config"],
        trained["ckpt"],
        "--dataset",
        folder / "with-broken.csv",
        "--output",
        output,
        "--batch-size",
        "3",
        "--no-progress",
        monkeypatch=monkeypatch,
    )
    assert "1 unreadable" in capsys.readouterr().out
    tokens = read_table(output, required=("img_path", "text", "visual_tokens", "orientation"))
    meta = read_meta(output)
    assert len(tokens) == len(table) == meta.num_rows and meta.num_skipped == 1
    assert (meta.num_codes, meta.downsample, meta.max_visual_length) == (64, 4, 32)
    assert list(tokens["text"]) == list(table["text"])
    for row in tokens.itertuples():
        grid = string_to_grid(row.visual_tokens)
        assert len(grid) * (len(grid[0]) + 1) <= 32
        assert all(0 <= token < 64 for line in grid for token in line)
        assert (output.parent / row.img_path).is_file()  # rewritten relative to the output


def test_predict_with_tta_writes_repeats(
    trained: dict[str, Path], synthetic_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = trained["folder"] / "tta.csv"
    run_script(
        "predict.py",
        trained["config"],
        trained["ckpt"],
        "--dataset",
        synthetic_dataset / "validation.csv",
        "--output",
        output,
        "--use-tta",
        "--num-repeats",
        "3",
        "--no-progress",
        monkeypatch=monkeypatch,
    )
    tokens = read_table(output, required=("visual_tokens", "repeat"))
    assert len(tokens) == 3 * 8
    assert sorted(tokens["repeat"].astype(int).unique()) == [0, 1, 2]


def test_export_round_trip_gives_identical_indices(
    trained: dict[str, Path], synthetic_dataset: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = trained["folder"] / "export"
    run_script("export.py", trained["config"], trained["ckpt"], export, monkeypatch=monkeypatch)
    assert {p.name for p in export.iterdir()} == {"model.safetensors", "config.json"}
    config = load_config(VQVAEConfig, trained["config"])
    original = ImageTokenizer.from_checkpoint(config.model, trained["ckpt"], 32)
    loaded = ImageTokenizer.from_pretrained(export)
    images = [
        load_image(p) for p in sorted((synthetic_dataset / "images" / "validation").glob("*"))
    ]
    grids = loaded.tokenize(images, batch_size=3)
    assert grids == original.tokenize(images)
    assert loaded.sha256 == original.sha256
    drawn = loaded.draw(grids[0])
    assert drawn.size == (len(grids[0][0]) * 4, len(grids[0]) * 4)
    # Indices → pixels is the same path whichever way the model was loaded.
    assert torch.equal(
        torch.tensor(list(drawn.getdata())), torch.tensor(list(original.draw(grids[0]).getdata()))
    )


def test_evaluate_measures_an_export_as_its_checkpoint(
    trained: dict[str, Path],
    synthetic_dataset: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`evaluate.py` takes an exported VQVAE folder, as predict.py does (a shipped reader's
    VQVAE has no checkpoint), and measures the same figures as from its config and checkpoint."""
    export = tmp_path / "export"
    run_script("export.py", trained["config"], trained["ckpt"], export, monkeypatch=monkeypatch)
    common = ["--dataset", synthetic_dataset / "validation.csv", "--limit", "4", "--device", "cpu"]
    by_checkpoint, by_export = tmp_path / "checkpoint.json", tmp_path / "export.json"
    run_script(
        "evaluate.py", trained["config"], trained["ckpt"], *common, "--output", by_checkpoint,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    run_script("evaluate.py", export, *common, "--output", by_export, monkeypatch=monkeypatch)
    expected, got = (json.loads(path.read_text()) for path in (by_checkpoint, by_export))
    figures = ("count", "l1", "psnr", "used_fraction", "perplexity", "fidelity", "max_length")
    assert {key: got[key] for key in figures} == {key: expected[key] for key in figures}
    assert got["count"] == 4 and got["max_length"] == 32 and got["checkpoint"] == str(export)


def expect_cli_error(
    script: str,
    args: list,
    match: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_script(script, *args, monkeypatch=monkeypatch)
    assert exit_info.value.code == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error:") and match in error and "\n" not in error


def test_unknown_config_key_is_one_line_error(
    trained: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    expect_cli_error(
        "train.py",
        [trained["config"], "model.quantizer.num_codes=5"],
        "model.quantizer.num_codes",
        monkeypatch,
        capsys,
    )


def test_missing_table_column_is_one_line_error(
    trained: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table = trained["folder"] / "no-text.csv"
    table.write_text("img_path\nx.png\n")
    output = trained["folder"] / "never.csv"
    expect_cli_error(
        "predict.py",
        [trained["config"], trained["ckpt"], "--dataset", table, "--output", output],
        "missing column(s) text",
        monkeypatch,
        capsys,
    )
    assert not output.exists()


def test_corrupt_checkpoint_is_one_line_error(
    trained: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    corrupt = trained["folder"] / "corrupt.ckpt"
    corrupt.write_bytes(trained["ckpt"].read_bytes()[:1000])
    expect_cli_error(
        "export.py",
        [trained["config"], corrupt, trained["folder"] / "x"],
        "not a readable checkpoint",
        monkeypatch,
        capsys,
    )
    expect_cli_error(
        "export.py",
        [
            trained["config"],
            trained["ckpt"],
            trained["folder"] / "y",
            "model.quantizer.num_embeddings=32",
        ],
        "do not match the model config",
        monkeypatch,
        capsys,
    )
    assert not (trained["folder"] / "x").exists()


def test_export_format_version_mismatch(trained: dict[str, Path]) -> None:
    export = trained["folder"] / "export-v"
    config = load_config(VQVAEConfig, trained["config"])
    ImageTokenizer.from_checkpoint(config.model, trained["ckpt"], 32).save_pretrained(export)
    text = (
        (export / "config.json").read_text().replace('"format_version": 1', '"format_version": 7')
    )
    (export / "config.json").write_text(text)
    with pytest.raises(UserError, match="format_version 7"):
        ImageTokenizer.from_pretrained(export)


@pytest.mark.slow
def test_seed_f16_config_runs_a_training_step_and_tokenizes(
    synthetic_dataset: Path, tmp_path: Path
) -> None:
    overrides = [
        f"data.train_dataset={synthetic_dataset / 'train.csv'}",
        f"data.val_dataset={synthetic_dataset / 'validation.csv'}",
        "data.max_val_images=2",
        "train.max_steps=1",
        "train.batch_size=2",
        "train.precision=32-true",
        "train.accelerator=cpu",
        "train.devices=1",
        "train.num_workers=0",
    ]
    config = load_config(VQVAEConfig, VQVAE_DIR / "config" / "vqvae-f16-16384.yaml", overrides)
    config.data.max_length = 32  # tiny images: 16·(w+1) ≤ 32 keeps every template small
    train(config, tmp_path / "run")
    tokenizer = ImageTokenizer.from_checkpoint(config.model, tmp_path / "run" / "last.ckpt", 32)
    images = [
        load_image(p)
        for p in sorted((synthetic_dataset / "images" / "test-heldout-fonts").glob("*"))
    ][:2]
    grids = tokenizer.tokenize(images)
    assert tokenizer.num_codes == 16384 and tokenizer.downsample == 16
    assert all(0 <= t < 16384 for grid in grids for row in grid for t in row)
