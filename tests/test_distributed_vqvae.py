"""The VQVAE on 2 CPU processes (DDP over gloo): training and tokenising match one process."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image, ImageDraw
from training_helpers import ROOT, compare_ddp_with_one_process, run

from ocr_common.config import load_config
from ocr_common.sampling import SeededShuffleSampler, ShardedBatchSampler
from ocr_common.tables import resolve_image_paths
from vqvae.config import VQVAEConfig
from vqvae.data import TemplateDataset, template_loader
from vqvae.token_table import read_meta
from vqvae.training import train

PREDICT_SCRIPT = ROOT / "vqvae" / "src" / "predict.py"

CONFIG = """
data: {{train_dataset: {train}, val_dataset: {val}, max_length: 32, max_val_images: 4}}
model:
  encoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  decoder: {{num_layers: [1, 1, 1], hidden_dims: [8, 16, 16]}}
  quantizer: {{num_embeddings: 64, embedding_dim: 16, factorized_dim: 8}}
optim: {{lr: 2.0e-3}}
train: {{epochs: 1, max_steps: 4, batch_size: 4, accelerator: cpu, devices: 1, num_workers: 0,
         validation_interval: 1.0, log_every_n_steps: 1}}
"""


def two_template_table(folder: Path) -> Path:
    """32 images in two shapes (16 each): every global batch of 8 is full and of one template."""
    folder.mkdir()
    rows = []
    for i in range(32):
        size = (64, 16) if i % 2 else (24, 16)
        image = Image.new("RGB", size, (255, 255, 255))
        ImageDraw.Draw(image).text((2, 2), str(i), fill=(i * 7 % 256, 0, 0))
        image.save(folder / f"{i}.png")
        rows.append({"img_path": f"{i}.png", "text": str(i)})
    pd.DataFrame(rows).to_csv(folder / "table.csv", index=False)
    return folder / "table.csv"


@pytest.mark.slow
def test_ddp_training_matches_one_process(tmp_path: Path) -> None:
    table = two_template_table(tmp_path / "images")
    config = tmp_path / "tiny.yaml"
    config.write_text(CONFIG.format(train=table, val=table))
    compare_ddp_with_one_process("vqvae", config, tmp_path, batch_size=4, steps=4)


@pytest.mark.slow
def test_two_process_tokenizing_equals_one_process(
    synthetic_dataset: Path, tmp_path: Path, one_thread: None
) -> None:
    config = tmp_path / "tiny.yaml"
    config.write_text(
        CONFIG.format(
            train=synthetic_dataset / "train.csv", val=synthetic_dataset / "validation.csv"
        )
    )
    train(load_config(VQVAEConfig, config), tmp_path / "run")
    checkpoint = tmp_path / "run" / "last.ckpt"
    dataset = synthetic_dataset / "train.csv"
    outputs = {}
    for name, overrides in {
        "single": ["train.devices=1"],
        "ddp": ["train.devices=2", "train.strategy=ddp"],
    }.items():
        output = tmp_path / name / "tokens.parquet"
        # A killed earlier run's leftovers: a stale shard must not be merged into this one.
        stale = output.parent / f".{output.name}.shards"
        stale.mkdir(parents=True)
        pd.DataFrame({"index": [0], "visual_tokens": ["1 2"]}).to_parquet(
            stale / "rank00000.parquet"
        )
        # batch size 3 leaves the two ranks unequal batch counts (allowed when predicting).
        options = ["--dataset", dataset, "--output", output, "--batch-size", 3, "--no-progress"]
        options += ["--device", "cpu"]  # two CPU ranks, even where a GPU is the default
        result = run([PREDICT_SCRIPT, config, checkpoint, *overrides, *options], tmp_path)
        if name == "ddp":  # both ranks joined the process group
            assert "MEMBER: 1/2" in result.stderr and "MEMBER: 2/2" in result.stderr
        assert not stale.exists()
        assert sorted(p.name for p in output.parent.iterdir()) == [
            "tokens.meta.json",
            "tokens.parquet",
        ]
        outputs[name] = output
    single, ddp = (pd.read_parquet(outputs[name]) for name in ("single", "ddp"))
    assert len(single) == 32
    pd.testing.assert_frame_equal(single, ddp)
    assert read_meta(outputs["single"]) == read_meta(outputs["ddp"])


@pytest.mark.parametrize("split_batches", [True, False])
def test_template_batches_are_equal_in_number_and_cover_every_image(split_batches: bool) -> None:
    generator = torch.Generator().manual_seed(0)
    templates = [(1, int(t)) for t in torch.randint(1, 6, (101,), generator=generator)]
    per_rank = [
        list(
            ShardedBatchSampler(
                SeededShuffleSampler(101, seed=3),
                4,
                False,
                templates,
                num_replicas=3,
                rank=rank,
                split_batches=split_batches,
            )
        )
        for rank in range(3)
    ]
    if split_batches:  # lock-step training: one batch per rank per step, never an empty one
        assert len({len(batches) for batches in per_rank}) == 1
        assert all(batch for batches in per_rank for batch in batches)
    seen = [i for batches in per_rank for batch in batches for i in batch]
    assert set(seen) == set(range(101))
    for batches in per_rank:
        assert all(len({templates[i] for i in batch}) == 1 for batch in batches)
    if not split_batches:  # prediction: each image exactly once
        assert len(seen) == 101


def test_loader_resumes_mid_epoch_at_the_next_batch(tmp_path: Path) -> None:
    table = two_template_table(tmp_path / "images")
    data = TemplateDataset(
        resolve_image_paths(pd.read_csv(table), table),
        max_visual_length=32,
        downsample=4,
        channels=3,
    )
    loader = template_loader(data, 4, 0, shuffle_seed=5)
    loader.batch_sampler.sampler.set_epoch(2)
    epoch = [batch["indices"].tolist() for batch in loader]
    iterator = iter(loader)
    for _ in range(3):
        next(iterator)
    state = loader.state_dict()
    assert state == {"epoch": 2, "batches": 3}
    resumed = template_loader(data, 4, 0, shuffle_seed=5)
    resumed.load_state_dict(state)
    resumed.batch_sampler.sampler.set_epoch(2)
    assert [batch["indices"].tolist() for batch in resumed] == epoch[3:]
    assert resumed.state_dict() == {"epoch": 3, "batches": 0}  # epoch done: next one from 0
