"""The VQVAE config schema: `data`, `model.{encoder,decoder,quantizer}`, `optim`, `train`."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocr_common.optimization import AdamWConfig
from ocr_common.train_config import TrainConfig


@dataclass
class DataConfig:
    train_dataset: str | None = (
        None  # dataset table (img_path,text,…); relative to the config's cwd
    )
    val_dataset: str | None = None
    image_files: str | None = None  # or a glob of images, split by validation_ratio
    validation_ratio: float = 0.05
    max_length: int = 128  # token budget per image: rows·(cols+1) ≤ max_length
    max_val_images: int = 256  # validation subset size (fidelity needs a few hundred at most)


@dataclass
class CoderConfig:
    """One residual conv stack; stage i has num_layers[i] blocks of hidden_dims[i] channels."""

    num_channels: int = 3
    num_layers: list[int] = field(default_factory=lambda: [2, 2, 2, 2, 2])
    hidden_dims: list[int] = field(default_factory=lambda: [128, 128, 256, 256, 512])

    @property
    def downsample(self) -> int:
        return 2 ** (len(self.num_layers) - 1)


@dataclass
class QuantizerConfig:
    num_embeddings: int = 16384
    embedding_dim: int = 512
    factorized_dim: int = 32  # code look-up in this low-dimensional, l2-normalised space
    commitment_weight: float = 0.25
    restart_dead_codes: bool = True
    dead_code_threshold: float = 0.01  # EMA of uses per step below this → the code is dead
    usage_decay: float = 0.99
    search_chunk_elements: int = 2**24  # vectors × codes compared at once (64 MiB in fp32)


@dataclass
class ModelConfig:
    encoder: CoderConfig = field(default_factory=CoderConfig)
    decoder: CoderConfig = field(default_factory=CoderConfig)
    quantizer: QuantizerConfig = field(default_factory=QuantizerConfig)
    l2_weight: float = 1.0  # reconstruction loss = L1 + l2_weight · MSE

    @property
    def downsample(self) -> int:
        return self.encoder.downsample

    def validate(self) -> None:
        for name, coder in (("encoder", self.encoder), ("decoder", self.decoder)):
            if len(coder.num_layers) != len(coder.hidden_dims) or not coder.num_layers:
                raise ValueError(
                    f"model.{name}: num_layers and hidden_dims need the same (non-zero) length"
                )
        if self.encoder.downsample != self.decoder.downsample:
            raise ValueError("model.encoder and model.decoder need the same number of stages")
        if self.encoder.num_channels != self.decoder.num_channels:
            raise ValueError("model.encoder.num_channels must equal model.decoder.num_channels")
        quantizer = self.quantizer
        if quantizer.factorized_dim > quantizer.embedding_dim:
            raise ValueError("model.quantizer.factorized_dim must not exceed embedding_dim")
        if quantizer.num_embeddings < 2:
            raise ValueError("model.quantizer.num_embeddings must be at least 2")


@dataclass
class OptimConfig(AdamWConfig):
    """`optim:` AdamW's settings (ocr_common.optimization's schema) and a linear warm-up."""

    lr: float = 1e-4
    betas: list[float] = field(default_factory=lambda: [0.9, 0.99])
    eps: float = 1e-8
    weight_decay: float = 0.0
    warmup_steps: int = 0


@dataclass
class VQVAEConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def validate(self) -> None:
        self.model.validate()
        self.train.validate()
        if self.data.max_length < 2:
            raise ValueError("data.max_length must be at least 2")
        self.optim.validate("optim")
        if not 0.0 <= self.data.validation_ratio < 1.0:
            raise ValueError("data.validation_ratio must be in [0, 1)")
