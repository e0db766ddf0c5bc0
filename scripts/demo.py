"""`make demo`: the whole pipeline on a laptop CPU, each stage timed, resumable, reported.

python scripts/demo.py [--preset demo|cpu-long] [--fresh] [--root runs/demo]

Every stage runs the same user-facing command the README documents (so the demo is also a test of
them), records its figures in `<root>/state.json` and is skipped when the demo is re-run.
`--fresh` starts over. The report goes to `<root>/report.json` and `<root>/report.md`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError, run_cli
from ocr_common.synthetic import synthesize

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


@dataclass(frozen=True)
class Preset:
    train_images: int
    validation_images: int
    test_images: int
    vqvae_config: str
    vqvae_steps: int
    evaluate_limit: int


PRESETS = {
    # A seconds-long pass through every stage, for the tests.
    "smoke": Preset(
        train_images=32,
        validation_images=8,
        test_images=8,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=3,
        evaluate_limit=8,
    ),
    "demo": Preset(
        train_images=8_000,
        validation_images=300,
        test_images=300,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=500,
        evaluate_limit=300,
    ),
    "cpu-long": Preset(
        train_images=40_000,
        validation_images=1_000,
        test_images=1_000,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=3_000,
        evaluate_limit=500,
    ),
}


class Pipeline:
    """Runs named stages once; a finished stage's figures are kept in state.json."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.state_path = root / "state.json"
        self.state: dict[str, dict] = (
            json.loads(self.state_path.read_text(encoding="utf-8"))
            if self.state_path.is_file()
            else {}
        )

    def stage(self, name: str, run: Callable[[], dict]) -> dict:
        if name in self.state:
            print(f"== {name}: done earlier ({self.state[name]['seconds']:.0f} s), skipped")
            return self.state[name]
        print(f"== {name}", flush=True)
        start = time.perf_counter()
        try:
            figures = run()
        except subprocess.CalledProcessError as error:
            raise UserError(
                f"stage '{name}' failed: {' '.join(map(str, error.cmd))} exited {error.returncode}"
            ) from None
        self.state[name] = {"seconds": round(time.perf_counter() - start, 1), **figures}
        write_text_atomic(self.state_path, json.dumps(self.state, indent=2) + "\n")
        return self.state[name]


def run(command: list[str], cwd: Path) -> None:
    print("$", " ".join(map(str, command)), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def run_demo(preset: Preset, root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(root)
    data = root / "data"
    vqvae_dir = REPO / "vqvae"
    vqvae_run = root / "vqvae"
    vqvae_ckpt = vqvae_run / "last.ckpt"

    def make_data() -> dict:
        report = synthesize(
            data,
            num_train=preset.train_images,
            num_validation=preset.validation_images,
            num_test=preset.test_images,
        )
        print(report.summary())
        return {"images": report.counts, "images_per_second": round(report.images_per_second, 1)}

    def train_vqvae() -> dict:
        run(
            [
                PYTHON, "src/train.py", preset.vqvae_config,
                f"data.train_dataset={data / 'train.csv'}",
                f"data.val_dataset={data / 'validation.csv'}",
                f"train.max_steps={preset.vqvae_steps}", "train.epochs=1000",  # steps decide
                "--run-dir", str(vqvae_run),
            ],
            vqvae_dir,
        )  # fmt: skip
        return {"checkpoint": str(vqvae_ckpt)}

    def evaluate_vqvae() -> dict:
        output = root / "vqvae-fidelity.json"
        run(
            [
                PYTHON, "src/evaluate.py", preset.vqvae_config, str(vqvae_ckpt),
                "--dataset", str(data / "validation.csv"),
                "--limit", str(preset.evaluate_limit), "--output", str(output),
            ],
            vqvae_dir,
        )  # fmt: skip
        return json.loads(output.read_text(encoding="utf-8"))

    def export_vqvae() -> dict:
        run(
            [
                PYTHON,
                "src/export.py",
                preset.vqvae_config,
                str(vqvae_ckpt),
                str(root / "vqvae-export"),
            ],
            vqvae_dir,
        )
        return {"directory": str(root / "vqvae-export")}

    def tokenize() -> dict:
        figures = {}
        for split in ("train", "validation", "test-heldout-fonts"):
            output = root / "tokens" / f"{split}.parquet"
            run(
                [
                    PYTHON, "src/predict.py", preset.vqvae_config, str(vqvae_ckpt),
                    "--dataset", str(data / f"{split}.csv"), "--output", str(output),
                    "--batch-size", "64",
                ],
                vqvae_dir,
            )  # fmt: skip
            meta = json.loads(output.with_suffix(".meta.json").read_text(encoding="utf-8"))
            figures[split] = {k: meta[k] for k in ("num_rows", "num_skipped", "wasted_slot_share")}
        return figures

    pipeline.stage("synthesize", make_data)
    pipeline.stage("train-vqvae", train_vqvae)
    pipeline.stage("evaluate-vqvae", evaluate_vqvae)
    pipeline.stage("export-vqvae", export_vqvae)
    pipeline.stage("tokenize", tokenize)
    return pipeline.state


def write_report(root: Path, preset_name: str, preset: Preset, state: dict) -> None:
    report = {"preset": preset_name, "settings": asdict(preset), "stages": state}
    report["total_seconds"] = round(sum(stage["seconds"] for stage in state.values()), 1)
    write_text_atomic(root / "report.json", json.dumps(report, indent=2) + "\n")
    lines = [f"# Demo report ({preset_name})", "", "| stage | seconds |", "|---|---:|"]
    lines += [f"| {name} | {stage['seconds']:.0f} |" for name, stage in state.items()]
    fidelity = state.get("evaluate-vqvae")
    if fidelity:
        lines += [
            "",
            f"VQVAE: L1 {fidelity['l1']:.4f}, PSNR {fidelity['psnr']:.2f} dB, "
            f"codebook used {fidelity['used_fraction']:.1%}, "
            f"text fidelity {fidelity['fidelity']:.3f} (Tesseract on reconstructions / originals)",
        ]
    write_text_atomic(root / "report.md", "\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="demo")
    parser.add_argument("--root", type=Path, help="output folder (default: runs/<preset>)")
    parser.add_argument("--fresh", action="store_true", help="delete earlier results first")
    args = parser.parse_args()
    root = (args.root or REPO / "runs" / args.preset).resolve()
    if args.fresh and root.exists():
        shutil.rmtree(root)
    preset = PRESETS[args.preset]
    state = run_demo(preset, root)
    write_report(root, args.preset, preset, state)
    print(f"report: {root / 'report.md'}")


if __name__ == "__main__":
    run_cli(main)
