"""The repository's own checks: lint, format, Dockerfile lint, CI runs the README's test command."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run(*command: str) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=120)


def tool(name: str) -> str:
    path = BIN / name if (BIN / name).exists() else shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed (it is in requirements-dev.txt)")
    return str(path)


def test_ruff_lint_is_clean():
    result = run(tool("ruff"), "check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_clean():
    result = run(tool("ruff"), "format", "--check", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_lints_clean():
    result = run(tool("hadolint"), "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def commands(text: str) -> list[str]:
    """Command lines: each line without its comment and surrounding blanks."""
    return [line.split("#")[0].strip() for line in text.splitlines()]


def test_ci_runs_the_readme_test_command():
    """The README tells a developer to run `make test`, CI runs exactly that (not `make
    test-fast`, not a mention in a comment), and the target runs the whole pytest suite."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.DOTALL)
    assert "make test" in commands("\n".join(blocks))
    assert "make test" in commands((ROOT / ".ci" / "run").read_text(encoding="utf-8"))
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^test:.*\n((?:\t.*\n)+)", makefile, flags=re.MULTILINE)
    assert recipe is not None and commands(recipe.group(1)) == ["$(PY) -m pytest"]


def test_reading_commands_do_not_load_lightning():
    """Lightning trains and tokenises; reading needs none of it, and importing it costs ~0.4 s
    of every `predict`/`evaluate`/`inverse-dalle read` start (a user reading one image waits)."""
    probe = (
        "import sys, inverse_dalle.cli, inverse_dalle.table_reading; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'lightning'))"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_commands_that_run_models_do_not_load_the_synthesiser():
    """Reading, tokenising, training, exporting and drawing need no fonts or word lists: a GPU
    machine without `wordfreq` read nothing when the reading CLI imported the synthesiser."""
    modules = [
        "inverse_dalle.cli",
        "inverse_dalle.training",
        "inverse_dalle.finetuning",
        "inverse_dalle.export",
        "vqvae.cli",
        "vqvae.training",
    ]
    probe = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'wordfreq' "
        "or m.startswith('ocr_common.synthetic')))"
    )
    result = run(sys.executable, "-c", probe)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
