"""The demo's stages: each a named function of a `DemoRun` that runs the user-facing command the
README documents and returns the figures it produced. Everything is written under `run.root`.

A run either trains everything from nothing (VQVAE, then the reader), or, with
`Preset.start_from`, continues a shipped reader: its bundled VQVAE tokenises the data and its
weights start the reader, so a first run on a laptop ends with a reader that reads. With
`Preset.vqvae_from` a shipped VQVAE tokenises and a new reader is trained from nothing (the GPU
recipe).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ocr_common.synthetic import synthesize
from ocr_common.synthetic.contact_sheet import contact_sheet, save_contact_sheet
from ocr_common.tables import read_table, resolve_image_paths
from ocr_common.tesseract import score_table, tesseract_available

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SPLITS = ("validation", "test-heldout-fonts")  # the last one is the unseen-font test split
PROMPTS = ("약국", "주차장", "문자 인식", "24시 편의점")  # drawn, then read back by the reader
VQVAE_DIR = REPO / "vqvae"
GPT2_DIR = REPO / "gpt2"


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
    start_from: str | None = None  # an exported reader to continue (relative to the repository)
    sign_share: float = 0.0  # of the training images, drawn like photographed signs
    gpt2_lr: float | None = None  # peak learning rate of the reader (None: the config's)
    gpt2_overrides: tuple[str, ...] = ()  # more `key=value` for the reader's config
    glyph_variation: float = 0.0  # share of the training images drawn as another face would
    # An exported VQVAE that makes the tokens of a reader trained from nothing (relative to the
    # repository); `start_from` brings its own.
    vqvae_from: str | None = None
    token_budget: int | None = None  # the token tables' budget (None: the VQVAE's own)
    tokenize_workers: int = 0  # DataLoader workers decoding images for the VQVAE
    draws: bool = True  # finetune the reader into a drawer; a `columns` reader cannot be

    @property
    def trains_vqvae(self) -> bool:
        return not (self.start_from or self.vqvae_from)


@dataclass(frozen=True)
class DemoRun:
    preset: Preset
    root: Path
    state: dict[str, dict]  # the figures of the stages finished so far

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def tokens(self) -> Path:
        return self.root / "tokens"

    @property
    def vqvae_checkpoint(self) -> Path:
        return self.root / "vqvae" / "last.ckpt"

    @property
    def vqvae_export(self) -> Path:
        """The VQVAE that makes the tokens: the shipped reader's own, a shipped one, or the one
        trained here."""
        if self.preset.start_from:
            return REPO / self.preset.start_from / "vqvae"
        if self.preset.vqvae_from:
            return REPO / self.preset.vqvae_from
        return self.root / "vqvae-export"

    @property
    def reader(self) -> Path:
        return self.root / "export"

    @property
    def drawer(self) -> Path:
        return self.root / "drawer"


def run(command: list[object], cwd: Path) -> None:
    print("$", " ".join(map(str, command)), flush=True)
    subprocess.run(list(map(str, command)), cwd=cwd, check=True)


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


def synthesize_data(demo: DemoRun) -> dict:
    preset = demo.preset
    report = synthesize(
        demo.data,
        num_train=preset.train_images,
        num_validation=preset.validation_images,
        num_test=preset.test_images,
        sign_share=preset.sign_share,
        variation_share=preset.glyph_variation,
    )
    print(report.summary())
    return {"images": report.counts, "images_per_second": round(report.images_per_second, 1)}


def train_vqvae(demo: DemoRun) -> dict:
    run(
        [
            PYTHON, "src/train.py", demo.preset.vqvae_config,
            f"data.train_dataset={demo.data / 'train.csv'}",
            f"data.val_dataset={demo.data / 'validation.csv'}",
            f"train.max_steps={demo.preset.vqvae_steps}", "train.epochs=1000",  # steps decide
            "--run-dir", demo.root / "vqvae",
        ],
        VQVAE_DIR,
    )  # fmt: skip
    return {"checkpoint": str(demo.vqvae_checkpoint)}


def evaluate_vqvae(demo: DemoRun) -> dict:
    output = demo.root / "vqvae-fidelity.json"
    run(
        [
            PYTHON, "src/evaluate.py", demo.preset.vqvae_config, demo.vqvae_checkpoint,
            "--dataset", demo.data / "validation.csv",
            "--limit", demo.preset.evaluate_limit, "--output", output,
        ],
        VQVAE_DIR,
    )  # fmt: skip
    return json.loads(output.read_text(encoding="utf-8"))


def export_vqvae(demo: DemoRun) -> dict:
    run(
        [
            PYTHON,
            "src/export.py",
            demo.preset.vqvae_config,
            demo.vqvae_checkpoint,
            demo.vqvae_export,
        ],
        VQVAE_DIR,
    )
    return {"directory": str(demo.vqvae_export)}


def tokenize(demo: DemoRun) -> dict:
    # A shipped VQVAE is an export; a VQVAE trained here is a config and a checkpoint.
    preset = demo.preset
    model = (
        [preset.vqvae_config, demo.vqvae_checkpoint] if preset.trains_vqvae else [demo.vqvae_export]
    )
    budget = ["--max-length", preset.token_budget] if preset.token_budget else []
    figures = {}
    for split in ("train", "validation", "test-heldout-fonts"):
        output = demo.tokens / f"{split}.parquet"
        run(
            [
                PYTHON, "src/predict.py", *model, "--dataset", demo.data / f"{split}.csv",
                "--output", output, "--batch-size", "64", *budget,
                "--num-workers", preset.tokenize_workers,
            ],
            VQVAE_DIR,
        )  # fmt: skip
        meta = json.loads(output.with_suffix(".meta.json").read_text(encoding="utf-8"))
        figures[split] = {k: meta[k] for k in ("num_rows", "num_skipped", "wasted_slot_share")}
    return figures


def train_gpt2(demo: DemoRun) -> dict:
    preset = demo.preset
    start_from = [f"model.init_from={REPO / preset.start_from}"] if preset.start_from else []
    lr = [f"optim.optimizer.lr={preset.gpt2_lr}"] if preset.gpt2_lr is not None else []
    start = time.perf_counter()
    run(
        [
            PYTHON, "src/train.py", preset.gpt2_config,
            f"data.train_dataset={demo.tokens / 'train.parquet'}",
            f"data.val_dataset={demo.tokens / 'validation.parquet'}",
            f"data.vqvae={demo.vqvae_export}", *start_from, *lr,
            f"train.max_steps={preset.gpt2_steps}", "train.epochs=1000",  # steps decide
            f"optim.scheduler.num_training_steps={preset.gpt2_steps}",
            f"train.validation_interval={preset.gpt2_validation_every}",
            *preset.gpt2_overrides, "--run-dir", demo.root / "gpt2",
        ],
        GPT2_DIR,
    )  # fmt: skip
    minutes_per_step = (time.perf_counter() - start) / 60 / preset.gpt2_steps
    return {
        "checkpoint": str(demo.root / "gpt2" / "last.ckpt"),
        "learning_curve": learning_curve(
            demo.root / "gpt2" / "logs" / "metrics.csv", minutes_per_step
        ),
    }


def export_gpt2(demo: DemoRun) -> dict:
    run(
        [
            PYTHON, "src/export.py", demo.preset.gpt2_config, demo.root / "gpt2" / "last.ckpt",
            demo.reader, f"data.vqvae={demo.vqvae_export}", *demo.preset.gpt2_overrides,
            "--half",  # measure what we ship
        ],
        GPT2_DIR,
    )  # fmt: skip
    return {"directory": str(demo.reader)}


def evaluate_gpt2(demo: DemoRun) -> dict:
    figures = {}
    for split in SPLITS:
        output = demo.root / f"scores-{split}.json"
        run(
            [
                PYTHON, "src/evaluate.py", demo.reader, demo.data / f"{split}.csv",
                "--group-by", "orientation", "--output", output,
                "--predictions", demo.root / f"predictions-{split}.csv",
            ],
            GPT2_DIR,
        )  # fmt: skip
        figures[split] = json.loads(output.read_text(encoding="utf-8"))["scores"]
    return {"scores": figures}


def tesseract(demo: DemoRun) -> dict:
    if not tesseract_available():
        print("tesseract is not installed: no baseline (apt-get install tesseract-ocr-kor)")
        return {"skipped": "tesseract not installed"}
    split = SPLITS[-1]
    result = score_table(demo.data / f"{split}.csv")
    scores = {group: value.as_dict() for group, value in result["scores"].items()}
    return {**result, "split": split, "scores": scores}


def finetune(demo: DemoRun) -> dict:
    steps = demo.preset.finetune_steps
    run(
        [
            PYTHON, "src/finetune.py", "config/gpt2-tiny-finetune.yaml", f"model={demo.reader}",
            f"data.train_dataset={demo.tokens / 'train.parquet'}",
            f"data.val_dataset={demo.tokens / 'validation.parquet'}",
            f"train.max_steps={steps}", "train.epochs=1000",
            f"optim.scheduler.num_training_steps={steps}",
            f"train.validation_interval={max(steps // 2, 1)}",
            "--run-dir", demo.root / "finetune", "--export-dir", demo.drawer,
        ],
        GPT2_DIR,
    )  # fmt: skip
    return {"directory": str(demo.drawer)}


def generate(demo: DemoRun) -> dict:
    count = demo.preset.images_per_prompt
    figures, by_tesseract = {}, {}
    judge = ["--tesseract"] if tesseract_available() else []  # a judge we did not train
    for number, prompt in enumerate(PROMPTS):
        output = demo.root / "generated" / f"prompt{number}"
        run(
            [
                PYTHON, "src/generate.py", demo.drawer, prompt, "--output-dir", output,
                "--num-images", count, "--reader", demo.reader, *judge,
            ],
            GPT2_DIR,
        )  # fmt: skip
        summary = json.loads((output / "summary.json").read_text(encoding="utf-8"))
        figures[prompt] = summary["read_back"]["word_accuracy"]
        if judge:
            by_tesseract[prompt] = summary["read_back_tesseract"]["word_accuracy"]
    run(
        [
            PYTHON,
            "src/generate.py",
            demo.reader,
            "--unconditional",
            "--num-images",
            count,
            "--output-dir",
            demo.root / "generated" / "unconditional",
        ],
        GPT2_DIR,
    )
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
        "images_per_prompt": count,
    }


def draw_figures(demo: DemoRun) -> dict:
    """Sheets of what the models produce, test readings and drawings (if any), in <root>/figures
    (`scripts/refresh_readme_figures.py` copies them into the README's images/)."""
    folder = demo.root / "figures"
    split = SPLITS[-1]
    predictions = demo.root / f"predictions-{split}.csv"  # written by evaluate-gpt2
    truth = with_absolute_paths(demo.data / f"{split}.csv")
    tesseract_texts = demo.state["tesseract"].get("texts")
    truth["font"] = [  # the sheet's small print
        f"truth: {text}" + (f" · Tesseract: {tesseract_texts[i]}" if tesseract_texts else "")
        for i, text in enumerate(truth["text"])
    ]
    truth["text"] = [f"GPT-2: {text}" for text in read_table(predictions)["text"].fillna("")]
    sheets = [("readings", truth, 16)]
    if "generate" in demo.state:
        drawn = pd.concat(
            with_absolute_paths(demo.root / "generated" / f"prompt{n}" / "captions.csv")
            for n in range(len(PROMPTS))
        )
        drawn["font"] = [f"read back: {text}" for text in drawn["reading"].fillna("")]
        sheets.append(("generated", drawn, len(drawn)))
    folder.mkdir(parents=True, exist_ok=True)
    for name, table, count in sheets:
        table[["img_path", "text", "font"]].to_csv(folder / f"{name}.csv", index=False)
        sheet = contact_sheet(folder / f"{name}.csv", count=count)
        save_contact_sheet(sheet, folder / f"{name}.png")
    return {"folder": str(folder)}


def stages(preset: Preset) -> list[tuple[str, Callable[[DemoRun], dict]]]:
    """The stages a preset runs, in order, with the names its report uses."""
    vqvae = [
        ("train-vqvae", train_vqvae),
        ("evaluate-vqvae", evaluate_vqvae),
        ("export-vqvae", export_vqvae),
    ]
    drawing = [("finetune", finetune), ("generate", generate)]
    return [
        ("synthesize", synthesize_data),
        *(vqvae if preset.trains_vqvae else []),
        ("tokenize", tokenize),
        ("train-gpt2", train_gpt2),
        ("export-gpt2", export_gpt2),
        ("evaluate-gpt2", evaluate_gpt2),
        ("tesseract", tesseract),
        *(drawing if preset.draws else []),
        ("figures", draw_figures),
    ]
