"""The installable package: pyproject declares the dependencies and the `inverse-dalle` console
script, whose commands are the same functions the `python src/*.py` scripts run."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import pandas as pd
import pytest
import tomllib
from packaging.requirements import Requirement

from inverse_dalle import cli

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"


def test_pyproject_declares_requirements_and_the_console_script() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    # The dependencies are requirements.txt's lines, each a valid requirement.
    assert "dependencies" in pyproject["project"]["dynamic"]
    source = pyproject["tool"]["setuptools"]["dynamic"]["dependencies"]["file"]
    assert source == ["requirements.txt"]
    lines = (line.split("#")[0].strip() for line in (REPO / source[0]).read_text().splitlines())
    names = {Requirement(line).name for line in lines if line}
    assert {"torch", "lightning", "transformers", "pandas", "pillow"} <= names
    module, _, function = pyproject["project"]["scripts"]["inverse-dalle"].partition(":")
    assert getattr(importlib.import_module(module), function) is cli.main


@pytest.mark.parametrize("script", ["predict.py", "evaluate.py", "generate.py"])
def test_scripts_run_the_shared_commands(script: str) -> None:
    # No copy of a command in the scripts: each only hands its command line to inverse_dalle.cli.
    text = (REPO / "gpt2" / "src" / script).read_text()
    assert re.search(r"^from inverse_dalle\.cli import \w+$", text, re.MULTILINE)
    assert "argparse" not in text
    assert "from vqvae.cli import tokenize" in (REPO / "vqvae" / "src" / "predict.py").read_text()


@pytest.mark.parametrize("name", list(cli.COMMANDS))
def test_every_command_help_shows_an_example(name: str, capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.dispatch([name, "--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    assert f"usage: inverse-dalle {name}" in help_text
    assert re.search(rf"^examples:\n  inverse-dalle {name} \S", help_text, re.MULTILINE)


def test_console_script_reads_the_examples(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    output = tmp_path / "readings.csv"
    argv = ["inverse-dalle", "read", str(PRETRAINED), str(EXAMPLES), "--output", str(output)]
    monkeypatch.setattr(sys, "argv", argv)
    cli.main()
    assert "wrote 12 reading(s)" in capsys.readouterr().out
    readings = pd.read_csv(output, keep_default_na=False).set_index("img_path")["text"]
    assert readings["03-horizontal.png"] == "사토시"  # as the README's quick start says


def test_unknown_command_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(sys, "argv", ["inverse-dalle", "raed"])
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 2
    assert (
        capsys.readouterr().err
        == "error: unknown command 'raed'; one of: read, read-page, evaluate, draw, tokenize\n"
    )
    cli.dispatch([])
    assert "inverse-dalle read pretrained/korean-ocr-tiny examples" in capsys.readouterr().out


def test_tokenize_takes_an_exported_vqvae(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    # The shipped reader's own VQVAE makes tables it can be fine-tuned on: it reads them as it
    # reads the images.
    tokens = tmp_path / "examples.parquet"
    cli.dispatch(
        [
            "tokenize",
            str(PRETRAINED / "vqvae"),
            "--dataset",
            str(EXAMPLES / "labels.csv"),
            "--output",
            str(tokens),
            "--no-progress",
            "train.accelerator=cpu",
            "train.devices=1",
        ]
    )
    assert "wrote 12 rows" in capsys.readouterr().out
    from_tokens, from_images = tmp_path / "tokens.csv", tmp_path / "images.csv"
    cli.dispatch(["read", str(PRETRAINED), str(tokens), "--output", str(from_tokens)])
    cli.dispatch(
        ["read", str(PRETRAINED), str(EXAMPLES / "labels.csv"), "--output", str(from_images)]
    )
    texts = [
        pd.read_csv(f, keep_default_na=False)["text"].tolist() for f in (from_tokens, from_images)
    ]
    assert texts[0] == texts[1]


def test_tokenize_wants_a_checkpoint_after_a_config(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    config = str(REPO / "vqvae" / "config" / "vqvae-tiny.yaml")
    argv = ["inverse-dalle", "tokenize", config, "--dataset", "t.csv", "--output", "o.parquet"]
    monkeypatch.setattr(sys, "argv", argv)
    with pytest.raises(SystemExit):
        cli.main()
    assert (
        "give an exported VQVAE folder, or a config and its checkpoint" in capsys.readouterr().err
    )


def test_model_card_says_what_it_reads_and_names_no_pipeline() -> None:
    # transformers 5 has no image-to-text pipeline that could run this reader.
    card = (PRETRAINED / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag" not in card
    assert "reads single cropped text lines**, horizontal or vertical" in card
    assert "inverse-dalle read-page" in card and "InverseDalleOCR.from_pretrained" in card


def test_exported_card_says_what_it_reads(pipeline: dict[str, Path]) -> None:
    card = (pipeline["export"] / "README.md").read_text(encoding="utf-8")
    assert "pipeline_tag" not in card and "single cropped text lines" in card
