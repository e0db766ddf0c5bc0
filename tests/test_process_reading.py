"""Reading image files in several processes (process_reading.py, predict/evaluate --workers):
the same readings, in order, as one process; unreadable files stay empty; clear refusals."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from inverse_dalle import InverseDalleOCR
from inverse_dalle.cli import read
from inverse_dalle.process_reading import default_workers
from ocr_common.errors import UserError

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLES = REPO / "examples"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_workers_read_as_one_process_does(tmp_path) -> None:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    images = [*sorted(EXAMPLES.glob("*.png")), broken]
    alone = ocr.read_batch(images, batch_size=4)
    shared = ocr.read_batch(images, batch_size=4, workers=2)  # 4 chunks over 2 processes
    assert [text for text, _ in shared] == [text for text, _ in alone]
    assert [c for _, c in shared] == pytest.approx([c for _, c in alone], rel=1e-5)
    assert shared[-1] == ("", 0.0)


def test_predict_with_workers_writes_the_same_table(tmp_path) -> None:
    outputs = {}
    for workers in (1, 2):
        outputs[workers] = tmp_path / f"workers{workers}.csv"
        read(
            [
                *(str(PRETRAINED), str(EXAMPLES / "labels.csv")),
                *("--output", str(outputs[workers]), "--batch-size", "5"),
                *("--workers", str(workers), "--tta", "2"),
            ]
        )
    one, two = (pd.read_csv(outputs[w]) for w in (1, 2))
    assert list(two["text"]) == list(one["text"])
    assert list(two["img_path"]) == list(one["img_path"])


def test_workers_are_refused_where_they_cannot_help(tmp_path) -> None:
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    with pytest.raises(UserError, match="at least 1"):
        ocr.read_batch(sorted(EXAMPLES.glob("*.png")), workers=0)
    table = tmp_path / "tokens.csv"
    pd.DataFrame({"img_path": ["a.png"], "visual_tokens": ["1 2"]}).to_csv(table, index=False)
    with pytest.raises(UserError, match="--workers reads image files"):
        read([str(PRETRAINED), str(table), "--output", str(tmp_path / "r.csv"), "--workers", "2"])


@pytest.mark.skipif(sys.platform != "linux", reason="forked workers: Linux only")
def test_the_default_is_a_process_per_core_where_each_gets_files() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers(torch.device("cpu"), 1000, 64) == min(cores, 15)
    assert default_workers(torch.device("cpu"), 12, 64) == 1  # fewer files than one batch
    assert default_workers(torch.device("cuda"), 1000, 64) == 1
