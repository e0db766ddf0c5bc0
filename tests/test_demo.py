"""`make demo` end to end on the smoke preset: every stage runs, the report is written, and a
re-run resumes from the finished stages instead of starting over."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parents[1] / "scripts" / "demo.py"


def run_demo(root: Path) -> str:
    command = [sys.executable, str(DEMO), "--preset", "smoke", "--root", str(root)]
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
    ]
    assert stages["synthesize"]["images"] == {"train": 32, "validation": 8, "test-heldout-fonts": 8}
    assert stages["tokenize"]["test-heldout-fonts"]["num_rows"] == 8
    assert 0 <= stages["evaluate-vqvae"]["l1"] <= 2
    assert (tmp_path / "vqvae-export" / "model.safetensors").is_file()
    assert "text fidelity" in (tmp_path / "report.md").read_text(encoding="utf-8")

    again = run_demo(tmp_path)
    assert again.count("skipped") == len(stages)
    assert "$ " not in again  # no command was run a second time
