"""The shared rules of issue 16: the token grid's budget and codebook (vqvae.token_table), the one
format-version check, the one checkpoint loader and its versions on both stages, the one optimiser
schema and the one codebook perplexity."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inverse_dalle.checkpoint import load_module
from inverse_dalle.config import InverseDalleConfig, ModelConfig, OptimizerConfig
from inverse_dalle.grid_repair import TOO_LONG, repair_grid
from inverse_dalle.lightning_module import CHECKPOINT_VERSION_KEY, OCRModule
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import SPECIALS
from ocr_common.checkpoints import load_checkpoint, read_resume_point
from ocr_common.config import config_to_dict
from ocr_common.errors import UserError, check_version
from vqvae.checkpoint import load_from_checkpoint
from vqvae.config import ModelConfig as VQVAEModelConfig
from vqvae.config import OptimConfig
from vqvae.quantizer import codebook_perplexity
from vqvae.shapes import maximal_templates, square_template
from vqvae.token_table import (
    check_budget,
    check_codebook,
    check_codes,
    grid_length,
    max_cols,
    max_rows,
)


def test_budget_rule_one_row_token_per_row() -> None:
    assert grid_length(3, 9) == 30
    assert max_rows(9, 30) == 3 and max_rows(9, 29) == 2
    assert max_cols(3, 30) == 9 and max_cols(3, 29) == 8
    for rows, cols in maximal_templates(40):
        assert grid_length(rows, cols) <= 40
        assert grid_length(rows + 1, cols) > 40 and grid_length(rows, cols + 1) > 40
    assert square_template(40) == (5, 5)  # 5·6 = 30 ≤ 40 < 6·7
    check_budget([[0] * 9] * 3, 30)
    with pytest.raises(ValueError, match="grid needs 30 tokens, max_visual_length is 29"):
        check_budget([[0] * 9] * 3, 29)


def test_the_sequence_and_the_repair_follow_the_budget_rule() -> None:
    layout = TokenLayout(10, 16, 20, 4)
    assert len(layout.visual_ids([[1] * 4] * 4)) == grid_length(4, 4) == 20
    with pytest.raises(ValueError, match="needs 25 tokens"):
        layout.visual_ids([[1] * 4] * 5)
    sample = [layout.row_id, *[layout.code_offset + 1] * 4] * 5
    repaired = repair_grid(sample, layout)
    assert len(repaired.grid) == max_rows(4, 20) == 4 and TOO_LONG in repaired.repairs


def test_codebook_rules() -> None:
    check_codes([[0, 15]], 16)
    for bad in ([[16]], [[-1, 0]]):
        with pytest.raises(ValueError, match=r"outside \[0, 16\)"):
            check_codes(bad, 16)
    check_codebook("x: VQVAE", 16, "the model reads", 16)
    with pytest.raises(UserError, match="x: VQVAE has 16 codes, the model reads 32"):
        check_codebook("x: VQVAE", 16, "the model reads", 32)
    with pytest.raises(ValueError, match="the VQVAE has 16 codes, the token layout 32"):
        check_codebook("the VQVAE", 16, "the token layout", 32, ValueError)


def test_one_version_check() -> None:
    check_version("f.json", "format_version", 1, 1)
    with pytest.raises(UserError, match=r"^f.json: format_version 2, this code reads 1$"):
        check_version("f.json", "format_version", 2, 1)


def test_one_checkpoint_loader(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "none.ckpt")
    (tmp_path / "junk.ckpt").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="not a readable checkpoint"):
        load_checkpoint(tmp_path / "junk.ckpt")
    torch.save({"weights": torch.zeros(1)}, tmp_path / "plain.ckpt")
    with pytest.raises(UserError, match=r"not a Lightning checkpoint \(no state_dict\)"):
        load_checkpoint(tmp_path / "plain.ckpt")
    with pytest.raises(UserError, match="not a Lightning training checkpoint"):
        read_resume_point(tmp_path / "plain.ckpt")
    with pytest.raises(UserError, match="checkpoint to resume from not found"):
        read_resume_point(tmp_path / "none.ckpt")
    torch.save({"state_dict": {}, "vqvae_format_version": 2}, tmp_path / "vqvae.ckpt")
    with pytest.raises(UserError, match="VQVAE checkpoint format_version 2, this code reads 1"):
        load_from_checkpoint(VQVAEModelConfig(), tmp_path / "vqvae.ckpt")


def _tiny_module() -> OCRModule:
    config = InverseDalleConfig(model=ModelConfig(n_positions=32, n_embd=8, n_layer=1, n_head=1))
    config.data.num_visual_tokens, config.data.max_visual_length = 16, 20
    config.data.max_text_length, config.data.train_dataset = 4, "unused.parquet"
    return OCRModule(config_to_dict(config), [*SPECIALS, "가", "나"])


def test_gpt2_checkpoints_carry_a_format_version(tmp_path: Path) -> None:
    module = _tiny_module()
    checkpoint = {"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams)}
    module.on_save_checkpoint(checkpoint)
    assert checkpoint[CHECKPOINT_VERSION_KEY] == 1
    torch.save(checkpoint, tmp_path / "now.ckpt")
    assert load_module(tmp_path / "now.ckpt").layout == module.layout
    del checkpoint[CHECKPOINT_VERSION_KEY]  # written before the key: version 1
    torch.save(checkpoint, tmp_path / "before.ckpt")
    assert load_module(tmp_path / "before.ckpt").layout == module.layout
    module.on_load_checkpoint(checkpoint)
    checkpoint[CHECKPOINT_VERSION_KEY] = 2
    torch.save(checkpoint, tmp_path / "later.ckpt")
    with pytest.raises(UserError, match="GPT-2 checkpoint format_version 2, this code reads 1"):
        load_module(tmp_path / "later.ckpt")
    with pytest.raises(UserError, match="cannot resume: GPT-2 checkpoint format_version 2"):
        module.on_load_checkpoint(checkpoint)


def test_one_optimiser_schema() -> None:
    assert OptimConfig().options() == {"lr": 1e-4, "betas": (0.9, 0.99), "eps": 1e-8}
    assert OptimizerConfig().options() == {"lr": 2e-4, "betas": (0.9, 0.999), "eps": 1e-6}
    with pytest.raises(ValueError, match=r"^optim.lr must be positive"):
        OptimConfig(lr=0).validate()
    with pytest.raises(ValueError, match=r"^optim.optimizer.betas needs two values"):
        OptimizerConfig(betas=[0.9]).validate()
    with pytest.raises(ValueError, match="name must be adamw"):
        OptimizerConfig(name="sgd").validate()


def test_codebook_perplexity() -> None:
    assert codebook_perplexity(torch.tensor([5.0, 5.0, 5.0, 5.0])).item() == pytest.approx(4.0)
    assert codebook_perplexity(torch.tensor([7.0, 0.0, 0.0])).item() == pytest.approx(1.0)
    assert codebook_perplexity(torch.zeros(3)).item() == pytest.approx(1.0)
