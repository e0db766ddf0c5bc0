"""`make demo`: the whole pipeline on a laptop CPU, each stage timed, resumable, reported.

python scripts/demo.py [--preset demo|scratch|cpu-long|gpu] [--fresh] [--root runs/demo]

`demo` continues the shipped reader on new data; `scratch` and `cpu-long` train the VQVAE and the
reader from nothing; `gpu` trains a larger reader from nothing on the shipped VQVAE's tokens.
Every stage (scripts/demo_stages.py) runs the same user-facing command the README documents (so
the demo is also a test of them), records its figures in `<root>/state.json` and is skipped when
the demo is re-run; nothing is written outside `<root>`. `--fresh` starts over. The report goes
to `<root>/report.json` and `<root>/report.md`; `scripts/refresh_readme_figures.py <root>` copies
its sheets into the README's images/.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from functools import partial
from pathlib import Path

from demo_stages import PROMPTS, REPO, DemoRun, Preset, stages

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError, run_cli
from ocr_common.json_files import write_json

PRESETS = {
    # A seconds-long pass through every stage, for the tests: from nothing, and from the shipped
    # reader.
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
    "smoke-pretrained": Preset(
        train_images=32,
        validation_images=8,
        test_images=8,
        vqvae_config="",  # the shipped reader's VQVAE makes the tokens
        vqvae_steps=0,
        evaluate_limit=8,
        gpt2_config="config/gpt2-tiny-signs.yaml",
        gpt2_steps=4,
        gpt2_validation_every=2,
        finetune_steps=3,
        images_per_prompt=2,
        start_from="pretrained/korean-ocr-tiny",
        sign_share=0.5,
        gpt2_lr=1e-4,
    ),
    # `make demo`: a newcomer's first run continues the shipped reader on images it never saw,
    # in every training face with sign effects, and ends with a reader that reads.
    "demo": Preset(
        train_images=20_000,
        validation_images=300,
        test_images=300,
        vqvae_config="",
        vqvae_steps=0,
        evaluate_limit=300,
        gpt2_config="config/gpt2-tiny-signs.yaml",
        gpt2_steps=600,
        gpt2_validation_every=200,
        finetune_steps=300,
        images_per_prompt=4,
        start_from="pretrained/korean-ocr-tiny",
        sign_share=0.5,
        # The config's 5e-4 restart costs a trained reader accuracy first: 61.7 -> 57.3 % of the
        # held-out lines after 600 steps, where 1e-4 gives 62.3 % (docs/experiments.md).
        gpt2_lr=1e-4,
    ),
    # Everything from nothing in 24 minutes: the VQVAE, then a reader that stops before its
    # learning curve takes off (0 % of held-out words; docs/experiments.md).
    "scratch": Preset(
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
    # From nothing at the first shipped reader's budget (118 minutes; pretrained/'s first run).
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
    # The reading recipe at GPU scale, sized for one 10-minute call on an H100/H200 (not yet run
    # on one: docs/gpu.md): 200 000 fresh lines in every training face, half drawn like signs and
    # half with glyph variation, tokenised by the shipped VQVAE at a 256-token budget; a 10 M-
    # parameter reader from nothing that reads wide lines by columns (so it draws nothing).
    "gpu": Preset(
        train_images=200_000,
        validation_images=1_000,
        test_images=1_000,  # the held-out split the README's figures come from
        vqvae_config="",
        vqvae_steps=0,
        evaluate_limit=0,
        gpt2_config="config/gpt2-small-gpu.yaml",
        gpt2_steps=3_000,
        gpt2_validation_every=1_000,
        finetune_steps=0,
        images_per_prompt=0,
        sign_share=0.5,
        glyph_variation=0.5,
        vqvae_from="pretrained/korean-ocr-tiny/vqvae",
        token_budget=256,
        tokenize_workers=8,
        draws=False,
    ),
}
# The GPU recipe's every stage at toy sizes on CPU, for the tests.
PRESETS["smoke-gpu"] = replace(
    PRESETS["gpu"],
    train_images=32,
    validation_images=8,
    test_images=8,
    gpt2_steps=4,
    gpt2_validation_every=2,
    tokenize_workers=0,
    gpt2_overrides=(
        "model.n_embd=32",
        "model.n_layer=2",
        "model.n_head=2",
        "train.batch_size=8",
        "train.accelerator=cpu",
        "train.num_workers=0",
    ),
)


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


def run_demo(preset: Preset, root: Path) -> dict:
    root.mkdir(parents=True, exist_ok=True)
    pipeline = Pipeline(root)
    demo = DemoRun(preset, root, pipeline.state)
    for name, stage in stages(preset):
        pipeline.stage(name, partial(stage, demo))
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
