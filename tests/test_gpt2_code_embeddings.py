"""Image-token embeddings started from the VQVAE codebook (model.init_code_embeddings)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from training_helpers import copy_as_if_from_another_vqvae

from inverse_dalle.code_embeddings import codebook_vectors, initialize_code_embeddings
from inverse_dalle.config import InverseDalleConfig, ModelConfig
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.model import build_model
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.training import train
from ocr_common.config import ConfigError, load_config
from ocr_common.errors import UserError
from vqvae import ImageTokenizer

LAYOUT = TokenLayout(text_vocab_size=10, num_codes=64, max_visual_length=32, max_text_length=6)


def tiny_model():
    torch.manual_seed(0)
    return build_model(ModelConfig(n_positions=48, n_embd=32, n_layer=1, n_head=2), LAYOUT)


def test_code_rows_keep_the_codebook_geometry_and_text_rows_are_untouched() -> None:
    vectors = torch.nn.functional.normalize(
        torch.randn(64, 4, generator=torch.Generator().manual_seed(1)), dim=1
    )
    model = tiny_model()
    before = model.transformer.wte.weight.detach().clone()
    initialize_code_embeddings(model, LAYOUT, vectors)
    weight = model.transformer.wte.weight.detach()
    codes = weight[LAYOUT.code_offset : LAYOUT.vocab_size]
    centered = vectors - vectors.mean(dim=0)
    # Same pairwise geometry up to one scale: Gram matrices are proportional.
    gram, reference = codes @ codes.T, centered @ centered.T
    scale = gram.trace() / reference.trace()
    torch.testing.assert_close(gram, scale * reference, atol=1e-6, rtol=1e-4)
    assert codes.norm(dim=1).mean().item() == pytest.approx(0.02 * math.sqrt(32), rel=1e-4)
    assert torch.equal(weight[: LAYOUT.code_offset], before[: LAYOUT.code_offset])
    assert torch.equal(weight[LAYOUT.vocab_size :], before[LAYOUT.vocab_size :])
    assert model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()  # tied


def test_codebook_of_another_size_is_refused() -> None:
    with pytest.raises(ValueError, match="the VQVAE has 16 codes, the token layout 64"):
        initialize_code_embeddings(tiny_model(), LAYOUT, torch.randn(16, 4))


def test_flag_without_a_vqvae_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("data: {train_dataset: t.parquet}\nmodel: {init_code_embeddings: true}\n")
    with pytest.raises(ConfigError, match=r"model\.init_code_embeddings needs data\.vqvae"):
        load_config(InverseDalleConfig, config)


def test_training_starts_from_the_bundled_codebook(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """train() writes the codebook into the model it fits (checked at the first batch)."""
    config = load_config(
        InverseDalleConfig,
        pipeline["config"],
        ["model.init_code_embeddings=true", "train.max_steps=1"],
    )
    seen = {}

    def capture(self, batch, batch_idx):
        seen["codes"] = self.model.transformer.wte.weight.detach().clone()
        return original(self, batch, batch_idx)

    original = OCRModule.training_step
    monkeypatch.setattr(OCRModule, "training_step", capture)
    train(config, pipeline["folder"] / "code-init-run")
    vectors = codebook_vectors(ImageTokenizer.from_pretrained(pipeline["folder"] / "vqvae"))
    module = OCRModule.load_from_checkpoint(pipeline["ckpt"], map_location="cpu")
    expected = module.model  # same layout as the pipeline's reader
    initialize_code_embeddings(expected, module.layout, vectors)
    rows = slice(module.layout.code_offset, module.layout.vocab_size)
    torch.testing.assert_close(seen["codes"][rows], expected.transformer.wte.weight[rows])


def test_a_codebook_that_did_not_make_the_table_is_refused(pipeline: dict[str, Path]) -> None:
    """Same code count, other VQVAE: its codebook would mean nothing for these tokens."""
    folder = pipeline["folder"]
    other = copy_as_if_from_another_vqvae(folder / "train.parquet", folder / "other-train.parquet")
    config = load_config(
        InverseDalleConfig,
        pipeline["config"],
        ["model.init_code_embeddings=true", f"data.train_dataset={other}"],
    )
    with pytest.raises(UserError, match="made by VQVAE 000000000000…, this model's VQVAE is"):
        train(config, folder / "never-trained")
    assert not (folder / "never-trained" / "last.ckpt").exists()
