"""The shipped drawer draws its prompt: our reader and Tesseract read its drawings back."""

import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from inverse_dalle import InverseDalleOCR
from inverse_dalle.generation import GenerationRequest, ImageGenerator, generate
from ocr_common.metrics import normalize

REPO = Path(__file__).resolve().parents[1]
DRAWER = REPO / "pretrained" / "korean-drawer-tiny"
READER = REPO / "pretrained" / "korean-ocr-tiny"

pytestmark = pytest.mark.usefixtures("one_thread")


def test_shipped_drawer_is_small_and_says_how_it_was_made() -> None:
    size = sum(p.stat().st_size for p in DRAWER.rglob("*") if p.is_file())
    assert size <= 25 * 2**20
    assert load_file(DRAWER / "model.safetensors")["transformer.wte.weight"].dtype == torch.float16
    card = (DRAWER / "README.md").read_text(encoding="utf-8")
    assert "python src/finetune.py config/gpt2-tiny-finetune.yaml" in card


def test_shipped_drawer_draws_short_prompts_our_reader_reads_back() -> None:
    # When shipped: 83 % of one-word prompts' drawings read back exactly (docs/drawing.md).
    generator = ImageGenerator.from_pretrained(DRAWER, device="cpu")
    reader = InverseDalleOCR.from_pretrained(READER, device="cpu")
    prompts = ["약국", "은행", "입구", "편의점"]
    readings = []
    for prompt in prompts:
        drawings = generator.draw(prompt, 4, seed=1)
        assert all(d.image.width > d.image.height for d in drawings)  # one horizontal line
        readings += [(prompt, text) for text, _ in reader.read_batch([d.image for d in drawings])]
    right = sum(normalize(text) == normalize(prompt) for prompt, text in readings)
    assert right >= len(readings) // 2, readings


@pytest.mark.skipif(shutil.which("tesseract") is None, reason="Tesseract is not installed")
def test_tesseract_reads_a_shipped_drawing(tmp_path: Path) -> None:
    summary = generate(
        GenerationRequest(DRAWER, "은행", tmp_path / "drawn", num_images=4, seed=1, tesseract=True)
    )
    assert summary["read_back_tesseract"]["word_accuracy"] >= 0.25, summary
