"""Seeded fuzzing of what users feed in: random and damaged bytes as images (the image loader and
predict), random and hostile AIHub label JSON. Whatever comes in: exit 0 or 2, one line on error,
every input row accounted for."""

from __future__ import annotations

import io
import json
import random
import sys
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from training_helpers import run_script

from ocr_common.aihub import SKIP_REASONS, process_aihub
from ocr_common.images import UnreadableImage, image_size, load_image

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
FORMATS = {"png": "PNG", "jpg": "JPEG", "gif": "GIF", "bmp": "BMP", "tif": "TIFF", "webp": "WEBP"}


def valid_image(rng: random.Random, suffix: str) -> bytes:
    mode = rng.choice(["RGB", "L", "RGBA", "P", "I;16"] if suffix in ("png", "tif") else ["RGB"])
    image = Image.new(mode, (rng.randint(1, 40), rng.randint(1, 40)), rng.randint(0, 255))
    buffer = io.BytesIO()
    image.save(buffer, FORMATS[suffix])
    return buffer.getvalue()


def hostile_image(rng: random.Random, suffix: str) -> bytes:
    """Valid, truncated, bit-flipped past the header, or random bytes."""
    data = valid_image(rng, suffix)
    kind = rng.randrange(4)
    if kind == 1:
        return data[: rng.randint(0, len(data))]
    if kind == 2:
        flipped = bytearray(data)
        for _ in range(rng.randint(1, 8)):  # past the header: sizes stay small
            position = rng.randrange(min(len(data), 32), len(data)) if len(data) > 32 else 0
            flipped[position] ^= 1 << rng.randrange(8)
        return bytes(flipped)
    if kind == 3:
        return rng.randbytes(rng.randint(0, 200))
    return data


def write_images(folder: Path, count: int, seed: int) -> list[Path]:
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        suffix = rng.choice(sorted(FORMATS))
        paths.append(folder / f"{index:03d}.{suffix}")
        paths[-1].write_bytes(hostile_image(rng, suffix))
    return paths


def test_image_loader_reads_or_refuses_any_bytes(tmp_path: Path) -> None:
    for path in write_images(tmp_path, 300, seed=1):
        try:
            width, height = image_size(path)
            image = load_image(path)
        except UnreadableImage as error:
            assert "\n" not in str(error)
            continue
        assert image.mode == "RGB" and image.size == (width, height)


def test_predict_accounts_for_every_fuzzed_image(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    paths = write_images(tmp_path / "images", 40, seed=2)
    output = tmp_path / "readings.csv"
    args = [PRETRAINED, tmp_path / "images", "--output", output]
    try:
        run_script("predict.py", *args, monkeypatch=monkeypatch)
    except SystemExit as exit_info:
        assert exit_info.code in (0, None), capsys.readouterr().err
    readings = pd.read_csv(output, keep_default_na=False)
    assert sorted(readings["img_path"]) == sorted(p.name for p in paths)
    unreadable = int(capsys.readouterr().out.split("; ")[1].split()[0])
    assert unreadable == (readings["confidence"] == 0).sum()


def random_value(rng: random.Random, depth: int = 0) -> object:
    choices = [
        None,
        True,
        rng.randint(-(10**30), 10**30),
        rng.choice([0.5, -1.0, 1e308, -1e308, 1e-320, float("inf"), float("nan")]),
        "".join(chr(rng.randint(1, 0xD7FF)) for _ in range(rng.randint(0, 12))),
        "x" * rng.randint(200, 400),
    ]
    if depth < 3:
        choices += [
            [random_value(rng, depth + 1) for _ in range(rng.randint(0, 5))],
            {str(rng.random()): random_value(rng, depth + 1) for _ in range(rng.randint(0, 3))},
        ]
    return rng.choice(choices)


def random_annotation(rng: random.Random) -> dict:
    annotation = {
        "id": rng.choice([rng.randint(0, 9), "가" * rng.randint(1, 120), random_value(rng)]),
        "image_id": rng.choice([1, 1, 1, "1", 2, random_value(rng)]),
        "bbox": rng.choice(
            [
                [rng.uniform(-10, 60) for _ in range(4)],
                [0, 0, rng.choice([1e400, 10**400, -5, 0]), 5],
                random_value(rng),
            ]
        ),
        "text": rng.choice(["간판", "가\n나\t다", "xxx", "", random_value(rng)]),
    }
    for key in rng.sample(sorted(annotation), rng.randint(0, 1)):
        del annotation[key]
    return annotation


def hostile_label_file(rng: random.Random) -> tuple[str, int | None]:
    """JSON text and how many annotations it holds (None: not a usable label file)."""
    kind = rng.randrange(6)
    if kind == 0:
        return "[" * 50_000 + "]" * 50_000, None
    if kind == 1:
        return rng.randbytes(rng.randint(0, 100)).decode("latin-1"), None
    if kind == 2:
        return json.dumps(random_value(rng)), None
    images = [{"id": 1, "file_name": rng.choice(["sign.png", "../x.png", "/etc/passwd", 7])}]
    annotations = [random_annotation(rng) for _ in range(rng.randint(0, 12))]
    return json.dumps({"images": images, "annotations": annotations}), len(annotations)


def test_aihub_preprocessing_accounts_for_every_hostile_annotation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    rng = random.Random(3)
    labels, images = tmp_path / "라벨", tmp_path / "원천"
    labels.mkdir()
    images.mkdir()
    Image.new("RGB", (50, 40), "white").save(images / "sign.png")
    annotations = 0
    for index in range(60):
        text, count = hostile_label_file(rng)
        (labels / f"{index:02d}.json").write_text(text, encoding="utf-8")
        annotations += count or 0
    output = tmp_path / "crops.csv"
    monkeypatch.setattr(
        sys,
        "argv",
        ["x", str(labels), str(images), "--output-dir", str(tmp_path / "crops"),
         "--output-dataset", str(output), "--workers", "1", "--no-progress"],
    )  # fmt: skip
    import runpy

    runpy.run_path(str(REPO / "scripts" / "process_external_dataset.py"), run_name="__main__")
    report = process_aihub(labels, images, tmp_path / "again", workers=1, progress=False)
    assert set(report.skipped) == set(SKIP_REASONS)
    # Every annotation of a well-formed file is kept or skipped with a reason.
    well_formed = 0
    for path in sorted(labels.glob("*.json")):
        if path.name in report.malformed_files:
            continue
        well_formed += len(json.loads(path.read_text(encoding="utf-8"))["annotations"])
    assert report.kept + sum(report.skipped.values()) == well_formed <= annotations
    assert len(pd.read_csv(output, keep_default_na=False)) == report.kept
