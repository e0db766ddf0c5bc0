"""`make demo` end to end on the smoke preset: every stage runs, the report is written, and a
re-run resumes from the finished stages instead of starting over."""

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from safetensors.torch import load_file

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"
DEMO = SCRIPTS / "demo.py"


def run_demo(root: Path, preset: str = "smoke") -> str:
    command = [sys.executable, str(DEMO), "--preset", preset, "--root", str(root)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return result.stdout


@pytest.mark.slow
def test_demo_runs_every_stage_then_resumes(tmp_path):
    run_demo(tmp_path)
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    stages = report["stages"]
    assert list(stages) == [
        "synthesize",
        "train-vqvae",
        "evaluate-vqvae",
        "export-vqvae",
        "tokenize",
        "train-gpt2",
        "export-gpt2",
        "evaluate-gpt2",
        "tesseract",
        "finetune",
        "generate",
        "figures",
    ]
    assert stages["synthesize"]["images"] == {"train": 32, "validation": 8, "test-heldout-fonts": 8}
    assert stages["tokenize"]["test-heldout-fonts"]["num_rows"] == 8
    fidelity = json.loads((tmp_path / "vqvae-fidelity.json").read_text(encoding="utf-8"))
    assert stages["evaluate-vqvae"]["l1"] == fidelity["l1"] > 0
    assert (tmp_path / "vqvae-export" / "model.safetensors").is_file()
    curve = stages["train-gpt2"]["learning_curve"]
    assert [point["step"] for point in curve] == [2, 4]
    for point in curve:  # each point is the share of exact readings the run wrote at that step
        readings = pd.read_csv(
            tmp_path / "gpt2" / "predictions" / f"step{point['step']}.csv", keep_default_na=False
        )
        exact = (readings["prediction"] == readings["reference"]).mean()
        assert point["word_accuracy"] == pytest.approx(exact, abs=1e-4)
    assert (tmp_path / "export" / "model.safetensors").is_file()
    test_scores = stages["evaluate-gpt2"]["scores"]["test-heldout-fonts"]
    assert test_scores["all"]["count"] == 8  # every test image scored, none dropped
    assert sum(v["count"] for k, v in test_scores.items() if k != "all") == 8
    if "skipped" not in stages["tesseract"]:
        assert stages["tesseract"]["scores"]["all"]["count"] == 8
    assert (tmp_path / "drawer" / "model.safetensors").is_file()
    assert len(stages["generate"]["read_back_by_prompt"]) == 4
    assert len(list((tmp_path / "generated" / "prompt0").glob("*.png"))) == 2
    by_prompt = stages["generate"]["read_back_by_prompt"]
    assert stages["generate"]["read_back_accuracy"] == pytest.approx(
        sum(by_prompt.values()) / len(by_prompt)
    )
    if "skipped" not in stages["tesseract"]:  # the drawings' second judge
        assert len(stages["generate"]["tesseract_read_back_by_prompt"]) == 4
    for sheet in ("readings.png", "generated.png"):
        assert (tmp_path / "figures" / sheet).stat().st_size > 0
    report_md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "text fidelity" in report_md
    assert "GPT-2 (test-heldout-fonts)" in report_md

    again = run_demo(tmp_path)
    assert again.count("skipped") == len(stages)
    assert "$ " not in again  # no command was run a second time

    shipped, examples = tmp_path / "shipped", tmp_path / "examples"
    command = [sys.executable, str(SCRIPTS / "ship_pretrained.py"), str(tmp_path), str(shipped)]
    command += ["--examples", str(examples), "--examples-per-orientation", "2"]
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    card = (shipped / "README.md").read_text(encoding="utf-8")
    assert "python scripts/demo.py --preset smoke" in card and "GPT-2 (test-heldout-fonts)" in card
    assert {t.dtype for t in load_file(shipped / "model.safetensors").values()} == {torch.float16}
    labels = pd.read_csv(examples / "labels.csv", keep_default_na=False)
    assert len(labels) == len(list(examples.glob("*.png"))) >= 2


@pytest.mark.slow
def test_demo_from_the_shipped_reader_ends_with_a_reader_that_reads(tmp_path):
    """`make demo`'s path: the shipped reader's VQVAE tokenises, its weights start the reader."""
    run_demo(tmp_path, "smoke-pretrained")
    stages = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["stages"]
    assert "train-vqvae" not in stages and "tokenize" in stages
    assert stages["synthesize"]["images"]["train"] == 32
    held_out = stages["evaluate-gpt2"]["scores"]["test-heldout-fonts"]["all"]
    # A reader trained 4 steps from nothing reads nothing; this one starts from 48 % of words.
    assert held_out["count"] == 8 and held_out["word_accuracy"] >= 0.25
    assert (tmp_path / "drawer" / "model.safetensors").is_file()
    assert not list(tmp_path.glob("vqvae*"))  # no VQVAE was trained or exported


@pytest.mark.slow
def test_the_gpu_recipe_runs_every_stage_at_toy_sizes_on_cpu(tmp_path):
    """`--preset gpu`'s path: the shipped VQVAE tokenises in a 256-token budget, a reader from
    nothing (the config's overrides applied) reads wide grids by columns, and its export turns
    image files into grids of that budget; a columns reader draws nothing, so no drawer."""
    run_demo(tmp_path, "smoke-gpu")
    stages = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))["stages"]
    assert list(stages) == [
        "synthesize",
        "tokenize",
        "train-gpt2",
        "export-gpt2",
        "evaluate-gpt2",
        "tesseract",
        "figures",
    ]
    assert json.loads((tmp_path / "tokens" / "train.meta.json").read_text())["max_length"] == 256
    layout = json.loads((tmp_path / "export" / "inverse_dalle.json").read_text())
    assert layout["reading_order"] == "columns" and layout["max_visual_length"] == 320
    assert json.loads((tmp_path / "export" / "config.json").read_text())["n_embd"] == 32
    bundled = json.loads((tmp_path / "export" / "vqvae" / "config.json").read_text())
    assert bundled["max_length"] == 256
    assert stages["evaluate-gpt2"]["scores"]["test-heldout-fonts"]["all"]["count"] == 8
    assert not (tmp_path / "drawer").exists() and not list(tmp_path.glob("vqvae*"))
    assert (tmp_path / "figures" / "readings.png").stat().st_size > 0
