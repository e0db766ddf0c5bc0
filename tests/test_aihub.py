"""AIHub preprocessing on a small AIHub-shaped tree built here: every skip reason, NFD text and
file names, folders with spaces and brackets, boxes partly outside, and the merging shell script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from ocr_common.aihub import SKIP_REASONS, process_aihub
from ocr_common.aihub.crops import clip_box
from ocr_common.tables import read_table

ROOT = Path(__file__).resolve().parents[1]
LABELS = Path("Training", "[라벨]Training")
IMAGES = Path("Training", "[원천]Training")
SIGN_FOLDER = Path("1.간판", "가로형 간판 (1)")

EXPECTED_SKIPS = {
    "unknown_image": 1,
    "empty_text": 3,
    "illegible": 2,
    "bad_box": 4,
    "unsafe_path": 2,
    "missing_image": 1,
    "ambiguous_image": 1,
    "duplicate": 1,
    "unreadable_image": 2,  # not an image; a PNG cut in half
    "box_outside": 1,
}
# crop text → (left, top, right, bottom) in the sign image, after clipping and rounding outwards
SIGN_CROPS = {
    "가게 이름": (10, 5, 40, 25),
    "밖으로": (80, 40, 100, 60),  # box [80, 40, 50, 50] clipped to the 100 × 60 image
    "세로": (0, 0, 10, 40),
    "소수": (20, 10, 31, 21),  # box [20.5, 10.2, 10, 10]
}


def pattern(width: int, height: int) -> np.ndarray:
    """Pixels that tell where they came from: red = 2x, green = 3y."""
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([(2 * x) % 256, (3 * y) % 256, np.full_like(x, 77)], axis=-1).astype(np.uint8)


def write_png(path: Path, width: int, height: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pattern(width, height)).save(path)


def write_labels(path: Path, images: list[tuple], annotations: list[tuple]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    content = {
        "images": [{"id": i, "file_name": name, "width": 0, "height": 0} for i, name in images],
        "annotations": [
            {"id": a, "image_id": i, "bbox": box, "text": text} for a, i, box, text in annotations
        ],
    }
    path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def build_training_tree(root: Path) -> None:
    labels, images = root / LABELS, root / IMAGES
    write_png(images / SIGN_FOLDER / "간판 [01].png", 100, 60)
    (images / SIGN_FOLDER / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    write_png(images / SIGN_FOLDER / "truncated.png", 100, 60)
    whole = (images / SIGN_FOLDER / "truncated.png").read_bytes()
    (images / SIGN_FOLDER / "truncated.png").write_bytes(whole[: len(whole) // 2])
    write_labels(
        labels / SIGN_FOLDER / "signs.json",
        [
            (1, "간판 [01].png"),
            (2, "../escape.png"),
            (3, "/etc/hosts"),
            (4, "없는 파일.png"),
            (5, "broken.png"),
            (6, "truncated.png"),
        ],
        [
            (1, 1, [10, 5, 30, 20], nfd(" 가게  이름 ")),
            (2, 1, [80, 40, 50, 50], "밖으로"),
            (3, 1, [0, 0, 10, 40], "세로"),
            (19, 1, [20.5, 10.2, 10.0, 10.0], "소수"),
            (4, 1, [1, 1, 5, 5], "xxx"),
            (5, 1, [1, 1, 5, 5], "간xxx"),
            (6, 1, [1, 1, 5, 5], ""),
            (7, 1, [1, 1, 5, 5], None),
            (8, 1, [1, 1, 5, 5], "  "),
            (9, 1, None, "상자"),
            (10, 1, [1, 1, 0, 5], "상자"),
            (11, 1, [1, 1, -3, 5], "상자"),
            (12, 1, [1, 1, "5", 5], "상자"),
            (13, 1, [200, 200, 10, 10], "바깥"),
            (1, 1, [10, 5, 30, 20], "중복"),
            (14, 999, [1, 1, 5, 5], "고아"),
            (15, 2, [1, 1, 5, 5], "탈출"),
            (16, 3, [1, 1, 5, 5], "탈출"),
            (17, 4, [1, 1, 5, 5], "없음"),
            (18, 5, [1, 1, 5, 5], "깨짐"),
            (20, 6, [1, 1, 5, 5], "잘림"),
        ],
    )
    # Unpacked on macOS: the image's name on disk is NFD, the label's file_name NFC.
    write_png(images / "2.책표지" / nfd("책 표지 [가].png"), 16, 24)
    write_labels(
        labels / "2.책표지" / "cover.json", [(1, "책 표지 [가].png")], [(1, 1, [0, 0, 8, 8], "책")]
    )
    # Images stored elsewhere than the mirrored folder: found by a unique bare name only.
    write_png(images / "따로" / "깊은 곳" / "외딴 이미지.png", 12, 12)
    write_png(images / "따로" / "a" / "같은.png", 12, 12)
    write_png(images / "따로" / "b" / "같은.png", 12, 12)
    write_labels(
        labels / "3.기타" / "other.json",
        [(1, "외딴 이미지.png"), (2, "같은.png")],
        [(1, 1, [2, 2, 6, 6], "외딴"), (2, 2, [2, 2, 6, 6], "모호")],
    )
    (labels / "1.간판" / "broken.json").write_text("{not json", encoding="utf-8")
    (labels / "1.간판" / "wrong shape.json").write_text('{"images": {}}', encoding="utf-8")
    (labels / "1.간판" / "._signs.json").write_bytes(b"\x00\x05\x16\x07")  # macOS metadata


@pytest.fixture(scope="module")
def aihub_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("aihub") / "AI Hub [야외 실제 촬영 한글 이미지]"
    build_training_tree(root)
    # Not side by side: the script finds the only folder named "[원천]Validation".
    write_png(
        root / "Validation" / "sources" / "[원천]Validation" / "1.간판" / "검증 1.png", 40, 20
    )
    write_labels(
        root / "Validation" / "labels" / "[라벨]Validation" / "1.간판" / "검증.json",
        [(7, "검증 1.png")],
        [(1, 7, [0, 0, 40, 20], "검증")],
    )
    return root


def run_training(root: Path, output: Path, workers: int = 1):
    return process_aihub(
        root / LABELS,
        root / IMAGES,
        output / "crops",
        output / "train.csv",
        workers=workers,
        progress=False,
    )


def test_counts_texts_and_crop_pixels(aihub_root, tmp_path):
    report = run_training(aihub_root, tmp_path)
    assert report.skipped == EXPECTED_SKIPS
    assert list(report.skipped) == list(SKIP_REASONS)
    assert report.kept == 6
    assert sorted(report.malformed_files) == ["1.간판/broken.json", "1.간판/wrong shape.json"]

    table = read_table(tmp_path / "train.csv")
    assert list(table.columns) == ["img_path", "text", "orientation", "source"]
    assert sorted(table["text"]) == sorted([*SIGN_CROPS, "책", "외딴"])
    rows = table.set_index("text")
    expected = pattern(100, 60)
    for text, (left, top, right, bottom) in SIGN_CROPS.items():
        assert unicodedata.is_normalized("NFC", text)
        crop = np.asarray(Image.open(tmp_path / rows.loc[text, "img_path"]))
        np.testing.assert_array_equal(crop, expected[top:bottom, left:right])
        assert rows.loc[text, "source"] == "1.간판/가로형 간판 (1)/signs.json"
    assert rows.loc["세로", "orientation"] == "vertical"  # 10 wide, 40 high
    assert set(rows.drop(index="세로")["orientation"]) == {"horizontal"}
    cover = np.asarray(Image.open(tmp_path / rows.loc["책", "img_path"]))
    np.testing.assert_array_equal(cover, pattern(16, 24)[0:8, 0:8])
    assert rows.loc["외딴", "source"] == "3.기타/other.json"
    assert all(path.startswith("crops/") for path in table["img_path"])


def test_rerun_is_identical_and_parallel_matches_serial(aihub_root, tmp_path):
    run_training(aihub_root, tmp_path, workers=1)
    first = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    (tmp_path / "crops" / ".x.partial-123.png").write_bytes(b"left by a killed run")
    run_training(aihub_root, tmp_path, workers=2)
    second = {p.relative_to(tmp_path): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert second == first
    assert len(list((tmp_path / "crops").iterdir())) == 6  # one file per kept crop


@pytest.mark.parametrize(
    ("box", "clipped"),
    [
        ((-5, -5, 10, 10), (0, 0, 5, 5)),
        ((95, 55, 10, 10), (95, 55, 100, 60)),
        ((100, 0, 5, 5), None),  # starts at the right edge
        ((-10, 10, 10, 5), None),  # ends at the left edge
        ((0.2, 0.7, 0.1, 0.1), (0, 0, 1, 1)),
    ],
)
def test_clip_box(box, clipped):
    assert clip_box(box, 100, 60) == clipped


def test_cli_prints_one_summary_line_and_fails_in_one_line(aihub_root, tmp_path):
    script = str(ROOT / "scripts" / "process_external_dataset.py")
    command = [sys.executable, script, str(aihub_root / LABELS), str(aihub_root / IMAGES)]
    done = subprocess.run(
        [*command, "--output-dir", str(tmp_path / "out"), "--no-progress", "--workers", "1"],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = done.stdout.strip()
    assert summary.startswith("kept 6 crops, skipped 18 annotations (unknown_image 1, empty_text 3")
    assert "2 malformed label files" in summary
    assert len(read_table(tmp_path / "out.csv")) == 6
    assert "broken.json" in done.stderr

    missing = subprocess.run(
        [sys.executable, script, str(tmp_path / "nowhere"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2
    assert missing.stderr.strip() == f"error: {tmp_path / 'nowhere'}: label folder not found"


def test_shell_script_merges_training_and_validation(aihub_root, tmp_path):
    output = tmp_path / "출력 [aihub]"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "preprocess-aihub-ocr.sh"), str(aihub_root), str(output)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr
    assert "/sources/[원천]Validation" in done.stdout  # paired though not side by side
    train, validation = read_table(output / "train.csv"), read_table(output / "validation.csv")
    assert sorted(train["text"]) == sorted([*SIGN_CROPS, "책", "외딴"])
    assert validation["text"].tolist() == ["검증"]
    for table in (train, validation):
        assert all((output / path).is_file() for path in table["img_path"])
    assert sorted(p.name for p in output.iterdir()) == ["images", "train.csv", "validation.csv"]
    assert pd.Series(train["img_path"]).is_unique


def test_shell_script_pairs_the_real_downloads_folder_names(aihub_root, tmp_path):
    """The download names its source folders "[원천]Training_간판_…_원천데이터 1": paired with
    "[라벨]Training" by the split and the 라벨/원천 markers, not by the whole name."""
    root = tmp_path / "download"
    shutil.copytree(aihub_root, root)
    (root / IMAGES).rename(root / "Training" / "[원천]Training_간판_가로형간판_원천데이터 1")
    output = tmp_path / "out"
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "preprocess-aihub-ocr.sh"), str(root), str(output)],
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable},
    )
    assert done.returncode == 0, done.stderr
    assert sorted(read_table(output / "train.csv")["text"]) == sorted([*SIGN_CROPS, "책", "외딴"])
