"""A stock Hugging Face GPT-2: the export loads with `AutoModelForCausalLM`, no remote code."""

from __future__ import annotations

from transformers import GPT2Config, GPT2LMHeadModel
from transformers.activations import GELUTanh, NewGELUActivation

from inverse_dalle.config import ModelConfig
from inverse_dalle.token_format import TokenLayout
from inverse_dalle.vocabulary import BOS_ID, EOS_ID, PAD_ID


def build_model(config: ModelConfig, layout: TokenLayout) -> GPT2LMHeadModel:
    gpt2_config = GPT2Config(
        vocab_size=layout.embedding_size,
        n_positions=config.n_positions,
        n_embd=config.n_embd,
        n_layer=config.n_layer,
        n_head=config.n_head,
        activation_function=config.activation_function,
        resid_pdrop=config.resid_pdrop,
        embd_pdrop=config.embd_pdrop,
        attn_pdrop=config.attn_pdrop,
        layer_norm_epsilon=config.layer_norm_epsilon,
        bos_token_id=BOS_ID,
        eos_token_id=EOS_ID,
        pad_token_id=PAD_ID,
        attn_implementation="sdpa",
    )
    return use_fused_gelu(GPT2LMHeadModel(gpt2_config))


def use_fused_gelu(model: GPT2LMHeadModel) -> GPT2LMHeadModel:
    """`model` with gelu_new (GPT-2's tanh GELU as five elementwise passes in Python: a quarter
    of reading time on CPU) computed by PyTorch's one fused kernel of the same formula. Results
    differ by rounding only (≤ 3e-7); config.json still says gelu_new, so exports load anywhere."""
    for block in model.transformer.h:
        if isinstance(block.mlp.act, NewGELUActivation):
            block.mlp.act = GELUTanh()
    return model
