"""data.visual_token_noise: random codes in training inputs, nothing else touched."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from inverse_dalle.config import FinetuneConfig, InverseDalleConfig
from inverse_dalle.finetuning import training_config
from inverse_dalle.lightning_module import with_code_noise
from inverse_dalle.token_format import TokenLayout, ocr_example
from ocr_common.config import ConfigError, config_to_dict, load_config

LAYOUT = TokenLayout(text_vocab_size=40, num_codes=1024, max_visual_length=96, max_text_length=8)


def _batch(size: int = 64) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    rows = []
    for _ in range(size):
        grid = torch.randint(0, LAYOUT.num_codes, (2, 40), generator=generator).tolist()
        rows.append(ocr_example(LAYOUT, grid, [5, 6, 7]).input_ids)
    return torch.stack(rows)


def test_noise_replaces_about_its_share_of_codes_and_nothing_else() -> None:
    ids = _batch()
    torch.manual_seed(0)
    noisy = with_code_noise(ids, LAYOUT, 0.1)
    is_code = ids >= LAYOUT.code_offset
    changed = noisy != ids
    assert not changed[~is_code].any()  # [ROW], padding and text stay
    assert (noisy[is_code] >= LAYOUT.code_offset).all()
    assert (noisy[is_code] < LAYOUT.vocab_size).all()
    share = changed[is_code].float().mean().item()
    assert 0.08 < share < 0.12  # a replacement may draw the same code: 1 in 1 024


def test_no_noise_is_the_identity() -> None:
    ids = _batch(4)
    assert torch.equal(with_code_noise(ids, LAYOUT, 0.0), ids)


def test_a_share_outside_0_1_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"data\.visual_token_noise"):
        load_config(
            InverseDalleConfig,
            Path(__file__).parents[1] / "gpt2/config/gpt2-tiny-signs.yaml",
            ["data.visual_token_noise=1.0"],
        )


def test_finetuning_a_noisy_reader_into_a_drawer_drops_the_noise() -> None:
    """The noise is a reader-training option; a drawer's image codes are its targets too."""
    reader = load_config(
        InverseDalleConfig,
        Path(__file__).parents[1] / "gpt2/config/gpt2-tiny-signs.yaml",
        ["data.visual_token_noise=0.05"],
    )
    source = SimpleNamespace(
        metadata={"training_config": config_to_dict(reader)}, directory=Path("reader")
    )
    finetune = FinetuneConfig()
    finetune.data.train_dataset = "drawings.parquet"
    assert training_config(finetune, source).data.visual_token_noise == 0.0
