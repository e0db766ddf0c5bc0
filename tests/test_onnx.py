"""ONNX export (src/export.py --onnx) and reading through onnxruntime against PyTorch, on the
shipped reader and the 12 example images."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from inverse_dalle import InverseDalleOCR
from inverse_dalle.onnx_export import export_onnx
from inverse_dalle.onnx_reading import OnnxOCR
from inverse_dalle.vocabulary import BOS_ID

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "pretrained" / "korean-ocr-tiny"
EXAMPLES = sorted((ROOT / "examples").glob("*.png"))


@pytest.fixture(scope="module")
def readers(tmp_path_factory: pytest.TempPathFactory) -> tuple[OnnxOCR, InverseDalleOCR]:
    folder = tmp_path_factory.mktemp("onnx")
    written = export_onnx(MODEL, folder)
    assert {p.name for p in folder.iterdir()} == {"reader.onnx", "vqvae_encoder.onnx", "onnx.json"}
    assert written.info["vqvae_sha256"]
    return OnnxOCR.from_pretrained(MODEL, folder, threads=1), InverseDalleOCR.from_pretrained(
        MODEL, "cpu"
    )


def test_twelve_examples() -> None:
    assert len(EXAMPLES) == 12


def test_encoder_gives_the_same_codes(readers: tuple[OnnxOCR, InverseDalleOCR]) -> None:
    onnx_reader, torch_reader = readers
    assert onnx_reader.tokenize_each(EXAMPLES) == torch_reader.tokenize_each(EXAMPLES)


@pytest.mark.parametrize("text_length", [0, 7, 40])
def test_text_logits_match_pytorch(
    readers: tuple[OnnxOCR, InverseDalleOCR], text_length: int
) -> None:
    """Real prompts of two visual lengths, with the position jump reading uses before <s>."""
    onnx_reader, torch_reader = readers
    layout = torch_reader.layout
    grids = torch_reader.tokenize(EXAMPLES[:2])
    generator = torch.Generator().manual_seed(text_length)
    for grid in grids:
        visual = layout.visual_ids(grid)
        text = torch.randint(3, layout.text_vocab_size, (text_length,), generator=generator)
        ids = torch.tensor([[*visual, BOS_ID, *text.tolist()]]).expand(2, -1)
        positions = [
            *range(len(visual)),
            *range(layout.max_visual_length, layout.max_visual_length + 1 + text_length),
        ]
        position_ids = torch.tensor([positions]).expand(2, -1)
        model = torch_reader.model
        with torch.inference_mode():
            # use_cache=True, as reading.py calls it (see onnx_export.TextLogits on the mask)
            hidden = model.transformer(
                input_ids=ids, position_ids=position_ids, use_cache=True
            ).last_hidden_state
            expected = hidden @ model.lm_head.weight[: layout.text_vocab_size].T
        got = onnx_reader.text_logits(ids.numpy(), position_ids.numpy())
        assert got.shape == tuple(expected.shape)
        torch.testing.assert_close(torch.from_numpy(got), expected, atol=1e-4, rtol=1e-4)


def test_greedy_readings_match_pytorch(readers: tuple[OnnxOCR, InverseDalleOCR]) -> None:
    onnx_reader, torch_reader = readers
    got = onnx_reader.read_batch(EXAMPLES, batch_size=4)
    expected = torch_reader.read_batch(EXAMPLES, batch_size=4)
    assert [text for text, _ in got] == [text for text, _ in expected]
    for (_, confidence), (_, reference) in zip(got, expected, strict=True):
        assert confidence == pytest.approx(reference, abs=1e-4)
    assert onnx_reader.read(EXAMPLES[1]) == pytest.approx(got[1], abs=1e-6)


def test_unreadable_image_reads_empty(
    readers: tuple[OnnxOCR, InverseDalleOCR], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png")
    onnx_reader, _ = readers
    readings = onnx_reader.read_batch([broken, EXAMPLES[0]])
    assert readings[0] == ("", 0.0)
    assert readings[1][0]
