"""The GPT-2 config schemas: training a reader (the original project's `data`, `model`, `optim`,
`train` keys) and finetuning an exported reader to draw (`model` is then the exported directory)."""

from __future__ import annotations

from dataclasses import dataclass, field

from transformers import SchedulerType

from inverse_dalle.token_format import READING_ORDERS, round_up
from inverse_dalle.vocabulary import TEXT_UNITS
from ocr_common.optimization import AdamWConfig
from ocr_common.train_config import TrainConfig


@dataclass
class DataConfig:
    train_dataset: str = "???"  # token table written by vqvae/src/predict.py
    val_dataset: str | None = None
    # The VQVAE's codebook size and token budget. None (the default): the training table's
    # .meta.json says them (num_embeddings, max_length), or model.init_from's export does (its
    # budget, or the table's when larger: the reader continues in it, layout_growth.py). A
    # declared value is kept and checked: the codebook must be the table's, the budget at least
    # the table's (inverse_dalle.data.resolve_layout).
    num_visual_tokens: int | None = None
    max_visual_length: int | None = None
    max_text_length: int = 16
    text_unit: str = "syllable"  # syllable | jamo
    max_val_samples: int = 256  # validation images decoded greedily and scored
    vqvae: str | None = None  # exported VQVAE dir that made the tables; bundled by export.py
    # Share of image codes replaced by random codes in training inputs (targets stay): a reader
    # that must not hang on any one code, as a slightly shifted crop changes many (0: off).
    visual_token_noise: float = 0.0
    # How a grid wider than tall (a horizontal line) is fed: `rows` (as the original) or
    # `columns`, so each glyph's codes are contiguous (token_format.py). Taller grids: by rows.
    reading_order: str = "rows"


POSITION_MULTIPLE = 16


def derived_n_positions(max_visual_length: int, max_text_length: int) -> int:
    """model.n_positions left unset: the sequence (image, `<s>`, text, `</s>`) rounded up to a
    multiple of 16 (128 + 40 + 2 = 170 → 176)."""
    return round_up(max_visual_length + max_text_length + 2, POSITION_MULTIPLE)


@dataclass
class ModelConfig:
    # None: derived_n_positions of the layout (model.init_from's when given); a declared value
    # must hold the sequence.
    n_positions: int | None = None
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
    # sequence layout carry over, so the sizes above and the tables' VQVAE must match it; a larger
    # n_layer grows it deeper (depth_growth.py), a larger data.max_visual_length or
    # data.reading_order=columns gives it room (layout_growth.py), reading as before.
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
    compile: bool = False  # torch.compile the training forward: for GPUs (a minute to compile)


@dataclass
class InverseDalleConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: GPT2TrainConfig = field(default_factory=GPT2TrainConfig)

    def validate(self) -> None:
        for key in ("n_embd", "n_layer", "n_head", "n_positions"):
            value = getattr(self.model, key)
            if value is not None and value < 1:
                raise ValueError(f"model.{key} must be at least 1")
        if self.model.n_embd % self.model.n_head:
            raise ValueError(
                f"model.n_embd ({self.model.n_embd}) must be divisible by model.n_head "
                f"({self.model.n_head})"
            )
        if not 0.0 <= self.data.visual_token_noise < 1.0:
            raise ValueError("data.visual_token_noise must be in [0, 1)")
        for key in ("num_visual_tokens", "max_visual_length"):
            value = getattr(self.data, key)
            if value is not None and value < 1:
                raise ValueError(f"data.{key} must be at least 1")
        if self.data.max_visual_length is not None and self.model.n_positions is not None:
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
        if self.data.reading_order not in READING_ORDERS:
            raise ValueError(f"data.reading_order must be one of {READING_ORDERS}")
        if self.data.text_unit not in TEXT_UNITS:
            raise ValueError(f"data.text_unit must be one of {TEXT_UNITS}")
        self.optim.optimizer.validate()
        self.optim.scheduler.validate()
        self.train.validate()

    def check_layout_resolved(self) -> None:
        """ValueError unless the sizes left to the data have been filled in (a model needs them;
        training fills them from the training table with inverse_dalle.data.resolve_layout)."""
        unset = [
            f"{section}.{key}"
            for section, key in (
                ("data", "num_visual_tokens"),
                ("data", "max_visual_length"),
                ("model", "n_positions"),
            )
            if getattr(getattr(self, section), key) is None
        ]
        if unset:
            raise ValueError(
                f"{', '.join(unset)} unset: resolve them from the training table first "
                "(inverse_dalle.data.resolve_layout)"
            )


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
