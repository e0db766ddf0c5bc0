"""The GPT-2 config schemas: training a reader (the original project's `data`, `model`, `optim`,
`train` keys) and finetuning an exported reader to draw (`model` is then the exported directory)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import SchedulerType

from inverse_dalle.vocabulary import TEXT_UNITS
from ocr_common.optimization import AdamWConfig
from ocr_common.train_config import TrainConfig


@dataclass
class DataConfig:
    train_dataset: str = "???"  # token table written by vqvae/src/predict.py
    val_dataset: str | None = None
    num_visual_tokens: int = 16384  # codebook size; must match the token table's .meta.json
    max_visual_length: int = 128
    max_text_length: int = 16
    text_unit: str = "syllable"  # syllable | jamo
    max_val_samples: int = 256  # validation images decoded greedily and scored
    vqvae: str | None = None  # exported VQVAE dir that made the tables; bundled by export.py


@dataclass
class ModelConfig:
    n_positions: int = 1024
    n_embd: int = 768
    n_layer: int = 12
    n_head: int = 12
    activation_function: str = "gelu_new"
    resid_pdrop: float = 0.1
    embd_pdrop: float = 0.1
    attn_pdrop: float = 0.1
    layer_norm_epsilon: float = 1e-5
    # Image-token embeddings start from data.vqvae's codebook (see code_embeddings.py), not random
    init_code_embeddings: bool = False
    # Start from an exported reader (e.g. pretrained/korean-ocr-tiny): its weights, vocabulary and
    # sequence layout carry over, so the sizes above and the tables' VQVAE must match it.
    init_from: str | None = None


@dataclass
class OptimizerConfig(AdamWConfig):
    """`optim.optimizer:` AdamW's settings (ocr_common.optimization's schema) and its kernel."""

    lr: float = 2e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.999])
    eps: float = 1e-6
    weight_decay: float = 0.01
    name: str = "adamw"  # adamw | apex_fused_adam

    def validate(self, section: str = "optim.optimizer") -> None:
        if self.name not in ("adamw", "apex_fused_adam"):
            raise ValueError("optim.optimizer.name must be adamw or apex_fused_adam")
        super().validate(section)


@dataclass
class SchedulerConfig:
    name: str = "linear"  # any transformers.get_scheduler name
    num_warmup_steps: int = 100
    num_training_steps: int = 10_000

    def validate(self) -> None:
        names = [kind.value for kind in SchedulerType]
        if self.name not in names:
            raise ValueError(f"optim.scheduler.name must be one of {names}, not '{self.name}'")
        if self.num_warmup_steps < 0:
            raise ValueError("optim.scheduler.num_warmup_steps must not be negative")


@dataclass
class OptimConfig:
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    image_loss_weight: float = 1.0  # image-LM cross-entropy
    text_loss_weight: float = 1.0  # text-LM cross-entropy


@dataclass
class GPT2TrainConfig(TrainConfig):
    gradient_checkpointing: bool = False


@dataclass
class InverseDalleConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: GPT2TrainConfig = field(default_factory=GPT2TrainConfig)

    def validate(self) -> None:
        for key in ("n_embd", "n_layer", "n_head", "n_positions"):
            if getattr(self.model, key) < 1:
                raise ValueError(f"model.{key} must be at least 1")
        if self.model.n_embd % self.model.n_head:
            raise ValueError(
                f"model.n_embd ({self.model.n_embd}) must be divisible by model.n_head "
                f"({self.model.n_head})"
            )
        needed = self.data.max_visual_length + self.data.max_text_length + 2
        if self.model.n_positions < needed:
            raise ValueError(
                f"model.n_positions ({self.model.n_positions}) must be at least "
                f"data.max_visual_length + data.max_text_length + 2 = {needed}"
            )
        if self.model.init_from and self.model.init_code_embeddings:
            raise ValueError("model.init_from and model.init_code_embeddings exclude each other")
        if self.model.init_code_embeddings and not self.data.vqvae:
            raise ValueError("model.init_code_embeddings needs data.vqvae (the exported VQVAE)")
        if self.data.text_unit not in TEXT_UNITS:
            raise ValueError(f"data.text_unit must be one of {TEXT_UNITS}")
        self.optim.optimizer.validate()
        self.optim.scheduler.validate()
        self.train.validate()


@dataclass
class SamplingConfig:
    """How a drawing model samples image tokens; written to its generation_config.json."""

    top_k: int = 0  # keep the k most likely tokens (0: all)
    top_p: float = 1.0  # keep the smallest set holding this much probability (1: all)
    temperature: float = 1.0
    # Classifier-free guidance: logits = unconditional + s × (conditional − unconditional); 1 is
    # plain conditional sampling (needs a drawer finetuned with data.prompt_dropout > 0).
    guidance_scale: float = 1.0

    def validate(self) -> None:
        if self.top_k < 0:
            raise ValueError(f"top_k must be at least 0 (0: no limit), got {self.top_k}")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.temperature <= 0.0:
            raise ValueError(f"temperature must be positive, got {self.temperature}")
        if self.guidance_scale < 0.0:
            raise ValueError(f"guidance_scale must be at least 0, got {self.guidance_scale}")


@dataclass
class FinetuneDataConfig:
    train_dataset: str = "???"  # token table made with the VQVAE bundled in `model`
    val_dataset: str | None = None
    # Share of training sequences whose prompt is replaced by the empty `<s> </s>`, so the drawer
    # also learns to draw unprompted: the unconditional half of classifier-free guidance.
    prompt_dropout: float = 0.0


@dataclass
class FinetuneConfig:
    """Text-to-image finetuning; vocabulary, sequence layout and GPT-2 size come from `model`."""

    model: str = "???"  # exported reader directory (src/export.py), with its vqvae/
    data: FinetuneDataConfig = field(default_factory=FinetuneDataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: GPT2TrainConfig = field(default_factory=GPT2TrainConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)

    def validate(self) -> None:
        if not 0.0 <= self.data.prompt_dropout < 1.0:
            raise ValueError(
                f"data.prompt_dropout must be in [0, 1), got {self.data.prompt_dropout}"
            )
        self.optim.optimizer.validate()
        self.optim.scheduler.validate()
        self.train.validate()
        self.sampling.validate()
