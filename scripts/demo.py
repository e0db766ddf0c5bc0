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

import pandas as pd

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json
from ocr_common.metrics import score_by_group
from ocr_common.synthetic import synthesize
from ocr_common.synthetic.contact_sheet import contact_sheet, save_contact_sheet
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import read_by_orientation, tesseract_available

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SPLITS = ("validation", "test-heldout-fonts")  # the last one is the unseen-font test split
DEFAULT_ROOT = REPO / "runs" / "demo"
PROMPTS = ("약국", "주차장", "문자 인식", "24시 편의점")  # drawn, then read back by the reader


@dataclass(frozen=True)
class Preset:
    train_images: int
    validation_images: int
    test_images: int
    vqvae_config: str
    vqvae_steps: int
    evaluate_limit: int
    gpt2_config: str
    gpt2_steps: int
    gpt2_validation_every: int
    finetune_steps: int
    images_per_prompt: int


PRESETS = {
    # A seconds-long pass through every stage, for the tests.
    "smoke": Preset(
        train_images=32,
        validation_images=8,
        test_images=8,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=3,
        evaluate_limit=8,
        gpt2_config="config/gpt2-tiny.yaml",
        gpt2_steps=4,
        gpt2_validation_every=2,
        finetune_steps=3,
        images_per_prompt=2,
    ),
    "demo": Preset(
        train_images=40_000,
        validation_images=300,
        test_images=300,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=500,
        evaluate_limit=300,
        gpt2_config="config/gpt2-tiny.yaml",
        gpt2_steps=1_500,
        gpt2_validation_every=250,
        finetune_steps=300,
        images_per_prompt=4,
    ),
    "cpu-long": Preset(
        train_images=40_000,
        validation_images=1_000,
        test_images=1_000,
        vqvae_config="config/vqvae-tiny.yaml",
        vqvae_steps=1_500,
        evaluate_limit=500,
        gpt2_config="config/gpt2-tiny.yaml",
        gpt2_steps=11_000,
        gpt2_validation_every=1_000,
        finetune_steps=1_000,
        images_per_prompt=8,
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
        write_json(self.state_path, self.state)
        return self.state[name]


def run(command: list[str], cwd: Path) -> None:
    print("$", " ".join(map(str, command)), flush=True)
    subprocess.run(command, cwd=cwd, check=True)


def learning_curve(metrics_csv: Path, minutes_per_step: float) -> list[dict]:
    """Validation word accuracy by step, with the training minutes it took to get there."""
    metrics = pd.read_csv(metrics_csv)
    if "val/word_accuracy" not in metrics:
        return []
    points = metrics.dropna(subset=["val/word_accuracy"])
    # Lightning's CSV `step` of a validation run is the index of the last training step (0-based).
    return [
        {
            "step": int(step) + 1,
            "minutes": round((step + 1) * minutes_per_step, 2),
            "word_accuracy": round(float(accuracy), 4),
        }
        for step, accuracy in zip(points["step"], points["val/word_accuracy"], strict=True)
    ]


def with_absolute_paths(table_path: Path) -> pd.DataFrame:
    """A dataset table whose img_path no longer depends on the table's folder."""
    table = read_table(table_path)
    table["img_path"] = [str(path) for path in resolve_image_paths(table, table_path)]
    return table


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

    gpt2_dir = REPO / "gpt2"
    gpt2_run = root / "gpt2"
    gpt2_ckpt = gpt2_run / "last.ckpt"
    export = root / "export"

    def train_gpt2() -> dict:
        start = time.perf_counter()
        run(
            [
                PYTHON, "src/train.py", preset.gpt2_config,
                f"data.train_dataset={root / 'tokens' / 'train.parquet'}",
                f"data.val_dataset={root / 'tokens' / 'validation.parquet'}",
                f"data.vqvae={root / 'vqvae-export'}",
                f"train.max_steps={preset.gpt2_steps}", "train.epochs=1000",  # steps decide
                f"optim.scheduler.num_training_steps={preset.gpt2_steps}",
                f"train.validation_interval={preset.gpt2_validation_every}",
                "--run-dir", str(gpt2_run),
            ],
            gpt2_dir,
        )  # fmt: skip
        minutes_per_step = (time.perf_counter() - start) / 60 / preset.gpt2_steps
        return {
            "checkpoint": str(gpt2_ckpt),
            "learning_curve": learning_curve(gpt2_run / "logs" / "metrics.csv", minutes_per_step),
        }

    def export_gpt2() -> dict:
        run(
            [
                PYTHON, "src/export.py", preset.gpt2_config, str(gpt2_ckpt), str(export),
                f"data.vqvae={root / 'vqvae-export'}", "--half",  # measure what we ship
            ],
            gpt2_dir,
        )  # fmt: skip
        return {"directory": str(export)}

    def evaluate_gpt2() -> dict:
        figures = {}
        for split in SPLITS:
            output = root / f"scores-{split}.json"
            run(
                [
                    PYTHON, "src/evaluate.py", str(export), str(data / f"{split}.csv"),
                    "--group-by", "orientation", "--output", str(output),
                    "--predictions", str(root / f"predictions-{split}.csv"),
                ],
                gpt2_dir,
            )  # fmt: skip
            figures[split] = json.loads(output.read_text(encoding="utf-8"))["scores"]
        return {"scores": figures}

    def tesseract() -> dict:
        if not tesseract_available():
            print("tesseract is not installed: no baseline (apt-get install tesseract-ocr-kor)")
            return {"skipped": "tesseract not installed"}
        split = SPLITS[-1]
        rows = read_table(data / f"{split}.csv")
        orientations = list(rows["orientation"])
        start = time.perf_counter()
        texts = read_by_orientation(resolve_image_paths(rows, data / f"{split}.csv"), orientations)
        seconds = time.perf_counter() - start
        scores = score_by_group(texts, list(rows["text"]), orientations)
        return {
            "split": split,
            "texts": texts,
            "scores": {group: value.as_dict() for group, value in scores.items()},
            "images_per_second": round(len(rows) / seconds, 1),
        }

    drawer = root / "drawer"

    def finetune() -> dict:
        run(
            [
                PYTHON, "src/finetune.py", "config/gpt2-tiny-finetune.yaml", f"model={export}",
                f"data.train_dataset={root / 'tokens' / 'train.parquet'}",
                f"data.val_dataset={root / 'tokens' / 'validation.parquet'}",
                f"train.max_steps={preset.finetune_steps}", "train.epochs=1000",
                f"optim.scheduler.num_training_steps={preset.finetune_steps}",
                f"train.validation_interval={max(preset.finetune_steps // 2, 1)}",
                "--run-dir", str(root / "finetune"), "--export-dir", str(drawer),
            ],
            gpt2_dir,
        )  # fmt: skip
        return {"directory": str(drawer)}

    def generate() -> dict:
        figures, by_tesseract = {}, {}
        judge = ["--tesseract"] if tesseract_available() else []  # a judge we did not train
        for number, prompt in enumerate(PROMPTS):
            output = root / "generated" / f"prompt{number}"
            run(
                [
                    PYTHON, "src/generate.py", str(drawer), prompt, "--output-dir", str(output),
                    "--num-images", str(preset.images_per_prompt), "--reader", str(export), *judge,
                ],
                gpt2_dir,
            )  # fmt: skip
            summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
            figures[prompt] = summary["read_back"]["word_accuracy"]
            if judge:
                by_tesseract[prompt] = summary["read_back_tesseract"]["word_accuracy"]
        unconditional = root / "generated" / "unconditional"
        run(
            [
                PYTHON, "src/generate.py", str(export), "--unconditional",
                "--num-images", str(preset.images_per_prompt), "--output-dir", str(unconditional),
            ],
            gpt2_dir,
        )  # fmt: skip
        tesseract_figures = {}
        if by_tesseract:
            tesseract_figures = {
                "tesseract_read_back_by_prompt": by_tesseract,
                "tesseract_read_back_accuracy": sum(by_tesseract.values()) / len(by_tesseract),
            }
        return {
            "read_back_by_prompt": figures,
            "read_back_accuracy": sum(figures.values()) / len(figures),
            **tesseract_figures,
            "images_per_prompt": preset.images_per_prompt,
        }

    def figures() -> dict:
        """Sheets of what the models produce: test readings and drawings, in <root>/figures."""
        folder = root / "figures"
        split = SPLITS[-1]
        predictions = root / f"predictions-{split}.csv"  # written by evaluate-gpt2
        truth = with_absolute_paths(data / f"{split}.csv")
        tesseract_texts = pipeline.state["tesseract"].get("texts")
        truth["font"] = [  # the sheet's small print
            f"truth: {text}" + (f" · Tesseract: {tesseract_texts[i]}" if tesseract_texts else "")
            for i, text in enumerate(truth["text"])
        ]
        truth["text"] = [f"GPT-2: {text}" for text in read_table(predictions)["text"].fillna("")]
        drawn = pd.concat(
            with_absolute_paths(root / "generated" / f"prompt{n}" / "captions.csv")
            for n in range(len(PROMPTS))
        )
        drawn["font"] = [f"read back: {text}" for text in drawn["reading"].fillna("")]
        folder.mkdir(parents=True, exist_ok=True)
        for name, table, count in (("readings", truth, 16), ("generated", drawn, len(drawn))):
            table[["img_path", "text", "font"]].to_csv(folder / f"{name}.csv", index=False)
            sheet = contact_sheet(folder / f"{name}.csv", count=count)
            save_contact_sheet(sheet, folder / f"{name}.png")
        if root == DEFAULT_ROOT:  # the README shows the demo's own figures
            for name in ("readings.png", "generated.png"):
                shutil.copyfile(folder / name, REPO / "images" / f"demo-{name}")
        return {"folder": str(folder)}

    pipeline.stage("synthesize", make_data)
    pipeline.stage("train-vqvae", train_vqvae)
    pipeline.stage("evaluate-vqvae", evaluate_vqvae)
    pipeline.stage("export-vqvae", export_vqvae)
    pipeline.stage("tokenize", tokenize)
    pipeline.stage("train-gpt2", train_gpt2)
    pipeline.stage("export-gpt2", export_gpt2)
    pipeline.stage("evaluate-gpt2", evaluate_gpt2)
    pipeline.stage("tesseract", tesseract)
    pipeline.stage("finetune", finetune)
    pipeline.stage("generate", generate)
    pipeline.stage("figures", figures)
    return pipeline.state


def write_report(root: Path, preset_name: str, preset: Preset, state: dict) -> None:
    report = {"preset": preset_name, "settings": asdict(preset), "stages": state}
    report["total_seconds"] = round(sum(stage["seconds"] for stage in state.values()), 1)
    write_json(root / "report.json", report)
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
    lines += score_lines(state)
    curve = state.get("train-gpt2", {}).get("learning_curve")
    if curve:
        lines += ["", "Learning curve (validation word accuracy):", ""]
        lines += ["| step | training minutes | word accuracy |", "|---:|---:|---:|"]
        lines += [f"| {p['step']} | {p['minutes']:.1f} | {p['word_accuracy']:.1%} |" for p in curve]
    drawn = state.get("generate")
    if drawn:
        lines += [
            "",
            f"Text-to-image read-back accuracy: {drawn['read_back_accuracy']:.1%} "
            f"({drawn['images_per_prompt']} images for each of {len(PROMPTS)} prompts, "
            "read by the exported reader)",
        ]
        if "tesseract_read_back_accuracy" in drawn:
            lines.append(f"Read back by Tesseract: {drawn['tesseract_read_back_accuracy']:.1%}")
    if "export-gpt2" in state:
        lines += ["", f"Exported reader: `{state['export-gpt2']['directory']}`"]
    write_text_atomic(root / "report.md", "\n".join(lines) + "\n")


def score_lines(state: dict) -> list[str]:
    """One table row per reader, split and orientation: word accuracy, CER, 1−NED."""
    evaluated = state.get("evaluate-gpt2", {}).get("scores", {})
    rows = [(f"GPT-2 ({split})", scores) for split, scores in evaluated.items()]
    tesseract = state.get("tesseract", {})
    if "scores" in tesseract:
        rows.append((f"Tesseract ({tesseract['split']})", tesseract["scores"]))
    if not rows:
        return []
    lines = [
        "",
        "| reader | group | n | word accuracy | CER | 1−NED |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for reader, scores in rows:
        for group, value in scores.items():
            lines.append(
                f"| {reader} | {group} | {value['count']} | {value['word_accuracy']:.1%} | "
                f"{value['cer']:.3f} | {value['one_minus_ned']:.3f} |"
            )
    return lines


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
