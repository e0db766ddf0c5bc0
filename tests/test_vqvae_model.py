"""The VQVAE model: shapes, the encode/decode pair, chunked code search, codebook restarts, loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from vqvae import VQVAE, ImageTokenizer
from vqvae.config import CoderConfig, ModelConfig, QuantizerConfig
from vqvae.quantizer import FactorizedQuantizer, nearest_codes


def tiny_model_config(num_embeddings: int = 64, chunk: int = 2**24) -> ModelConfig:
    coder = CoderConfig(num_layers=[1, 1, 1, 1], hidden_dims=[8, 16, 16, 32])
    quantizer = QuantizerConfig(
        num_embeddings=num_embeddings,
        embedding_dim=16,
        factorized_dim=8,
        search_chunk_elements=chunk,
        usage_decay=0.5,
    )
    return ModelConfig(encoder=coder, decoder=coder, quantizer=quantizer)


@pytest.mark.parametrize("template", [(5, 24), (21, 5), (1, 63), (10, 10)])
def test_shapes_for_several_templates(template: tuple[int, int]) -> None:
    torch.manual_seed(0)
    model = VQVAE(tiny_model_config()).eval()
    rows, cols = template
    images = torch.rand(2, 3, rows * 8, cols * 8) * 2 - 1
    with torch.no_grad():
        indices = model.encode(images)
        assert indices.shape == (2, rows, cols)
        assert indices.dtype == torch.long
        assert int(indices.min()) >= 0 and int(indices.max()) < 64
        assert model.decode(indices).shape == images.shape


def test_decode_of_indices_equals_decoder_of_quantized_latents() -> None:
    torch.manual_seed(0)
    model = VQVAE(tiny_model_config()).eval()
    images = torch.rand(3, 3, 40, 96) * 2 - 1
    with torch.no_grad():
        quantized = model.quantizer(model.encoder(images))
        direct = model.decoder(quantized.latents).clamp(-1, 1)
        assert torch.equal(model.decode(model.encode(images)), direct)


def test_chunked_search_equals_brute_force() -> None:
    torch.manual_seed(0)
    vectors = F.normalize(torch.randn(1000, 8), dim=-1)
    codes = F.normalize(torch.randn(300, 8), dim=-1)
    brute = torch.cdist(vectors, codes).argmin(dim=1)
    for chunk in (300, 7 * 300 + 5, 10**9):  # one row at a time, uneven chunks, all at once
        assert torch.equal(nearest_codes(vectors, codes, chunk), brute)


def test_quantizer_with_small_chunks_gives_same_indices() -> None:
    torch.manual_seed(0)
    latents = torch.randn(2, 16, 5, 7)
    whole = FactorizedQuantizer(tiny_model_config().quantizer).eval()
    chunked = FactorizedQuantizer(tiny_model_config(chunk=64).quantizer).eval()
    chunked.load_state_dict(whole.state_dict())
    with torch.no_grad():
        assert torch.equal(whole(latents).indices, chunked(latents).indices)


def test_dead_codes_restart_from_encoder_outputs() -> None:
    torch.manual_seed(0)
    quantizer = FactorizedQuantizer(tiny_model_config().quantizer).train()
    latents = torch.randn(1, 16, 2, 2)  # 4 vectors: at most 4 of 64 codes can be used
    before = quantizer.codebook.detach().clone()
    for _ in range(10):
        quantizer(latents)
    changed = (quantizer.codebook.detach() != before).any(dim=1)
    assert changed.sum() >= 32  # most unused codes were replaced
    recent = F.normalize(quantizer.project_in(latents.permute(0, 2, 3, 1)).reshape(-1, 8), dim=-1)
    restarted = quantizer.codebook.detach()[changed]
    # Each restarted code is one of the recent (projected, normalised) encoder outputs.
    assert torch.cdist(restarted, recent.detach()).min(dim=1).values.max() < 1e-3


def test_loss_goes_down_in_a_few_steps() -> None:
    torch.manual_seed(0)
    model = VQVAE(tiny_model_config()).train()
    images = torch.rand(4, 3, 16, 64) * 2 - 1
    images[:, :, 4:12, 8:56] = -1  # a dark "text" block on noise
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(30):
        output = model(images)
        loss = F.l1_loss(output.images, images) + output.quantized.loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]


def test_config_cross_field_checks() -> None:
    config = tiny_model_config()
    config.decoder = CoderConfig(num_layers=[1, 1], hidden_dims=[8, 16])
    with pytest.raises(ValueError, match="same number of stages"):
        config.validate()


def test_grey_model_tokenizes_and_draws_through_the_image_tokenizer() -> None:
    torch.manual_seed(0)
    config = tiny_model_config()
    config.encoder.num_channels = config.decoder.num_channels = 1  # one CoderConfig for both
    tokenizer = ImageTokenizer(VQVAE(config).eval(), max_visual_length=128)
    line = Image.new("RGB", (160, 40), (30, 40, 160))
    line.paste((250, 230, 90), (20, 12, 140, 28))
    (grid,) = tokenizer.tokenize([line])
    assert (len(grid), len(grid[0])) == tokenizer.template(line)
    drawn = tokenizer.draw(grid)
    assert drawn.mode == "RGB" and drawn.size == (len(grid[0]) * 8, len(grid) * 8)
