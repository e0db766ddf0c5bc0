"""ONNX export (src/export.py --onnx) and reading through onnxruntime against PyTorch, on the
shipped reader and the 12 example images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
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
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("onnx")
    written = export_onnx(MODEL, folder)
    names = {"reader.onnx", "reader_cached.onnx", "vqvae_encoder.onnx", "onnx.json"}
    assert {p.name for p in folder.iterdir()} == names
    assert written.info["vqvae_sha256"]
    return folder


@pytest.fixture(scope="module")
def readers(onnx_dir: Path) -> tuple[OnnxOCR, InverseDalleOCR]:
    """The cached ONNX reader and the PyTorch one."""
    return OnnxOCR.from_pretrained(MODEL, onnx_dir, threads=1), InverseDalleOCR.from_pretrained(
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


def test_cached_reader_matches_the_full_one(readers: tuple[OnnxOCR, InverseDalleOCR]) -> None:
    """The prompt from an empty cache, then two tokens one at a time: each step's logits are the
    full sequence's at that position."""
    onnx_reader, torch_reader = readers
    layout = torch_reader.layout
    visual = layout.visual_ids(torch_reader.tokenize(EXAMPLES[:1])[0])
    ids = np.array([[*visual, BOS_ID, 5, 9]] * 2)
    positions = np.array(
        [[*range(len(visual)), *range(layout.max_visual_length, layout.max_visual_length + 3)]] * 2
    )
    full = onnx_reader.text_logits(ids, positions)
    session = onnx_reader.cached_reader
    shape = [
        2 if i == 2 else 0 if i == 4 else d for i, d in enumerate(session.get_inputs()[2].shape)
    ]
    past = np.zeros(shape, dtype=np.float32)
    prompt = len(visual) + 1
    for start, end in ((0, prompt), (prompt, prompt + 1), (prompt + 1, prompt + 2)):
        logits, past = session.run(
            None,
            {"input_ids": ids[:, start:end], "position_ids": positions[:, start:end], "past": past},
        )
        np.testing.assert_allclose(logits, full[:, end - 1], atol=1e-4, rtol=1e-4)
    assert past.shape[4] == ids.shape[1]


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_readings_match_pytorch(
    readers: tuple[OnnxOCR, InverseDalleOCR], onnx_dir: Path, use_cache: bool
) -> None:
    _, torch_reader = readers
    onnx_reader = OnnxOCR.from_pretrained(MODEL, onnx_dir, threads=1, use_cache=use_cache)
    assert (onnx_reader.cached_reader is not None) == use_cache
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
