"""Whole images: line detection recall and end-to-end word accuracy on synthetic scenes.

    python benchmarks/bench_whole_images.py [--model pretrained/korean-ocr-tiny] [--scenes 100] \
        [--plain] [--tiles]

Scenes (ocr_common.synthetic.scenes) hold 2–6 horizontal lines in the held-out fonts, on sign
panels or (--plain) printed black on white. A true line is found when at least half of a detected
box lies inside it, one detection per line (Tesseract's boxes hug the ink, the true ones include
the line's margins; recall at IoU ≥ 0.5 is reported too). Readers:
ours on the boxes Tesseract's layout analysis finds (`inverse-dalle read-page MODEL PHOTO`), ours
on the true boxes (`--boxes`), Tesseract's full-page mode (`--psm 3`, its own lines and texts) and
Tesseract's single-line mode on the true boxes. A line missed by the detector counts as misread.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from inverse_dalle import InverseDalleOCR
from inverse_dalle.pages import (
    MARGIN_ACROSS,
    MARGIN_ALONG,
    Box,
    boxes_from_table,
    detect_lines,
    read_lines,
)
from ocr_common.images import load_image
from ocr_common.json_files import write_json
from ocr_common.metrics import score
from ocr_common.synthetic.scenes import write_scenes
from ocr_common.tesseract import read_images, read_page_lines


def match(truth: list[Box], found: list[Box], strict: bool = False) -> list[int | None]:
    """For each true box, the index of its detection or None: the detection lying most inside it
    (at least half of the detection's area; `strict`: IoU ≥ 0.5 instead), each used once."""

    def quality(t: Box, f: Box) -> float:
        return t.iou(f) if strict else t.overlap(f) / max(f.area, 1)

    pairs = sorted(
        ((quality(t, f), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)),
        reverse=True,
    )
    matched: list[int | None] = [None] * len(truth)
    used: set[int] = set()
    for value, i, j in pairs:
        if value >= 0.5 and matched[i] is None and j not in used:
            matched[i], used = j, used | {j}
    return matched


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="pretrained/korean-ocr-tiny")
    parser.add_argument("--scenes", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--plain", action="store_true", help="printed lines, not sign panels")
    parser.add_argument("--tiles", action="store_true", help="our reader with --tiles")
    parser.add_argument("--output", default="benchmarks/results/whole_images.json")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ocr = InverseDalleOCR.from_pretrained(args.model, tiles=args.tiles)
    references: list[str] = []
    readings: dict[str, list[str]] = {k: [] for k in ("ours", "ours_true", "tess", "tess_true")}
    found = {"ours": [0, 0], "tess": [0, 0]}  # lines found at IoU 0.3 and 0.5
    detections = {"ours": 0, "tess": 0}
    seconds = {"ours": 0.0, "tess": 0.0}
    with tempfile.TemporaryDirectory() as folder:
        table = write_scenes(folder, args.scenes, seed=args.seed, plain=args.plain)
        for path, labelled in boxes_from_table(table).items():
            truth = [box for box, _ in labelled]
            texts = [str(text) for _, text in labelled]
            references += texts
            image = load_image(path)
            started = time.perf_counter()
            tesseract_lines = read_page_lines(path)
            seconds["tess"] += time.perf_counter() - started
            started = time.perf_counter()
            boxes = detect_lines(path)
            ours = read_lines(ocr, image, boxes, margins=(MARGIN_ALONG, MARGIN_ACROSS))
            seconds["ours"] += time.perf_counter() - started
            tesseract_boxes = [Box(line.x, line.y, line.w, line.h) for line in tesseract_lines]
            for name, candidates, texts_found in (
                ("ours", boxes, [r.text for r in ours]),
                ("tess", tesseract_boxes, [line.text for line in tesseract_lines]),
            ):
                detections[name] += len(candidates)
                found[name][1] += sum(j is not None for j in match(truth, candidates, strict=True))
                matched = match(truth, candidates)
                found[name][0] += sum(j is not None for j in matched)
                readings[name] += [texts_found[j] if j is not None else "" for j in matched]
            readings["ours_true"] += [r.text for r in read_lines(ocr, image, truth)]
            crops = []
            for number, box in enumerate(truth):
                crop = Path(folder) / f"crop-{len(references)}-{number}.png"
                image.crop((box.x, box.y, box.x + box.w, box.y + box.h)).save(crop)
                crops.append(crop)
            readings["tess_true"] += read_images(crops, "horizontal")
    n = len(references)
    report = {
        "model": args.model,
        "scenes": args.scenes,
        "lines": n,
        "seed": args.seed,
        "plain": args.plain,
        "tiles": args.tiles,
        "detection": {
            name: {
                "recall": hits[0] / n,
                "recall_iou_0.5": hits[1] / n,
                "detections": detections[name],
                "seconds_per_scene": seconds[name] / args.scenes,
            }
            for name, hits in found.items()
        },
        "end_to_end": {
            name: score(texts, references).as_dict() for name, texts in readings.items()
        },
    }
    write_json(args.output, report)
    labels = {
        "ours": "Tesseract layout (photo + negative, 3 binarisations) + our reader",
        "tess": "Tesseract full page (--psm 3)",
        "ours_true": "true boxes + our reader",
        "tess_true": "true boxes + Tesseract --psm 7",
    }
    print(f"{args.scenes} scenes, {n} lines")
    for name, values in report["detection"].items():
        print(
            f"detection {labels[name]}: recall {values['recall']:.1%} (IoU ≥ 0.5: "
            f"{values['recall_iou_0.5']:.1%}), {values['detections']} boxes, "
            f"{values['seconds_per_scene']:.2f} s/scene"
        )
    for name, values in report["end_to_end"].items():
        print(
            f"{labels[name]}: word accuracy {values['word_accuracy']:.1%}, CER {values['cer']:.3f}"
        )
    print(f"wrote {args.output}", file=sys.stderr)


if __name__ == "__main__":
    main()
