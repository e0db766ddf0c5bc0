import importlib.util
import time
from types import SimpleNamespace

import lightning as L
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, Subset, TensorDataset

from ocr_common.data_wait import DataWaitMonitor
from ocr_common.errors import UserError
from ocr_common.trainer import TrainConfig, build_trainer


class Line(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train/loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def loader():
    x = torch.linspace(-1, 1, 32).unsqueeze(1)
    return DataLoader(TensorDataset(x, 3 * x + 1), batch_size=8)


@pytest.mark.parametrize("logger", ["csv", "tensorboard"])
def test_trainer_writes_logs_and_last_checkpoint(tmp_path, logger):
    config = TrainConfig(epochs=3, accelerator="cpu", devices=1, logger=logger, log_every_n_steps=1)
    trainer = build_trainer(config, tmp_path / "run")
    trainer.fit(Line(), loader())
    assert (tmp_path / "run" / "last.ckpt").is_file()
    assert trainer.global_step == 12
    logged = {p.name for p in (tmp_path / "run").rglob("*")}
    assert ("metrics.csv" in logged) if logger == "csv" else any("tfevents" in n for n in logged)


def test_periodic_checkpoints(tmp_path):
    config = TrainConfig(
        epochs=1, accelerator="cpu", devices=1, checkpoint_every_n_steps=2, log_every_n_steps=1
    )
    build_trainer(config, tmp_path).fit(Line(), loader())
    assert (tmp_path / "last.ckpt").is_file()
    assert any(p.name.startswith("step") for p in tmp_path.glob("*.ckpt"))


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_wandb_without_package_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="pip install wandb"):
        build_trainer(TrainConfig(logger="wandb", accelerator="cpu", devices=1), tmp_path)


def test_time_budget_stops_training(tmp_path):
    config = TrainConfig(epochs=10_000, max_minutes=0.02, accelerator="cpu", devices=1)
    trainer = build_trainer(config, tmp_path)
    trainer.fit(Line(), loader())
    assert 0 < trainer.current_epoch < 10_000


class LineWithValidation(Line):
    def __init__(self):
        super().__init__()
        self.validated_at = []

    def validation_step(self, batch, batch_idx):
        if batch_idx == 0:
            self.validated_at.append(self.global_step)


def test_validation_every_n_batches_counts_across_short_epochs(tmp_path):
    # 4 batches an epoch, validation every 6: Lightning would refuse this without global counting.
    config = TrainConfig(epochs=3, validation_interval=6, accelerator="cpu", devices=1)
    module = LineWithValidation()
    build_trainer(config, tmp_path).fit(module, loader(), loader())
    assert [step for step in module.validated_at if step > 0] == [6, 12]


class SlowToLoad(torch.utils.data.Dataset):
    """Each item takes `delay` seconds to load, as a slow decoder would."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.x = torch.linspace(-1, 1, 64).unsqueeze(1)

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, index: int):
        time.sleep(self.delay)
        return self.x[index], 3 * self.x[index] + 1


class SlowToTrain(Line):
    def training_step(self, batch, batch_idx):
        time.sleep(0.05)  # as a large model's step would take
        return super().training_step(batch, batch_idx)

    def validation_step(self, batch, batch_idx):
        return None


@pytest.mark.parametrize("loading_delay", [0.0, 0.01])
def test_the_share_of_time_waiting_for_batches_is_logged(tmp_path, loading_delay, caplog):
    """8 items × 10 ms to load against a 50 ms step: the loop waits ~60 % of its time; without
    the delay it barely waits. The share is logged (`time/data_wait_share`) and printed."""
    config = TrainConfig(
        epochs=1, accelerator="cpu", devices=1, log_every_n_steps=1, validation_interval=4
    )
    data = DataLoader(SlowToLoad(loading_delay), batch_size=8)
    validation = DataLoader(Subset(SlowToLoad(0.05), range(4)), batch_size=4)  # 0.2 s, twice
    build_trainer(config, tmp_path / "run").fit(SlowToTrain(), data, validation)
    metrics = pd.read_csv(tmp_path / "run" / "logs" / "metrics.csv")
    share = metrics["time/data_wait_share"].dropna().iloc[-1]
    # logged at the steps the training metrics are (0-based), none past the last
    assert metrics["step"].max() == metrics.dropna(subset=["train/loss"])["step"].max() == 7
    if loading_delay:  # validation counts as neither (as waiting: ~70 % and ~45 %)
        assert 0.45 < share < 0.8
    else:
        assert share < 0.3  # the epoch's first fetch and the logging between steps
    assert f"waited for batches {share:.1%}" in caplog.text


def test_a_cuda_batch_end_waits_for_its_kernels_before_the_clock(monkeypatch):
    """On CUDA the batch's end synchronises before it is timed, so the step's own GPU time is
    not read as waiting for the next batch; on CPU nothing synchronises."""
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    trainer = SimpleNamespace(global_step=1, log_every_n_steps=50, loggers=[])
    monitor = DataWaitMonitor()
    for device in ("cpu", "cuda:0"):
        monitor.on_train_batch_end(trainer, SimpleNamespace(device=torch.device(device)))
    assert calls == [torch.device("cuda:0")]
