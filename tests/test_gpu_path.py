"""The GPU path, checked on CPU: gradient clipping with a fused AdamW under mixed precision (the
crash on CUDA), since PyTorch has a fused AdamW on CPU and Lightning's bf16-mixed runs on CPU;
--device on every command that runs a model; the GPU check script at toy sizes on CPU."""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path

import lightning as L
import pandas as pd
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import MixedPrecision
from torch.utils.data import default_collate
from training_helpers import GPT2_SRC, ROOT, TINY_GPT2_CONFIG, run, write_token_table

from inverse_dalle.cli import dispatch
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.data import OCRDataset, load_token_table
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.training import train
from ocr_common.config import load_config
from ocr_common.devices import default_device, fast_inference
from ocr_common.errors import run_cli
from ocr_common.metrics import score
from ocr_common.optimization import ClipsFusedOptimizerGradients

VQVAE_SRC = ROOT / "vqvae" / "src"
GPU_CHECK = ROOT / "benchmarks" / "gpu_check.py"
CLIP = 1e-3  # far below any real gradient norm here, so every step is clipped


def total_norm(optimizer: torch.optim.Optimizer) -> float:
    grads = [
        p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None
    ]
    return float(torch.linalg.vector_norm(torch.stack([g.float().norm() for g in grads])))


class GradientNorms(Callback):
    """Each optimiser step's gradient norm as Lightning hands it to the hooks (before clipping,
    unscaled) and as the optimiser stepped with it (after clipping; still there at batch end)."""

    def __init__(self) -> None:
        self.before: list[float] = []
        self.at_step: list[float] = []
        self.fused: list[bool] = []

    def on_train_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.fused.append(bool(trainer.optimizers[0].defaults.get("fused")))

    def on_before_optimizer_step(self, trainer, module, optimizer) -> None:
        self.before.append(total_norm(optimizer))

    def on_train_batch_end(self, trainer: L.Trainer, *args) -> None:
        self.at_step.append(total_norm(trainer.optimizers[0]))


def test_fused_adamw_with_gradient_clipping_trains_under_bf16_mixed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    # On CUDA the reader's AdamW is fused; force the same choice on CPU.
    monkeypatch.setattr("inverse_dalle.lightning_module.use_fused_adamw", lambda parameters: True)
    write_token_table(tmp_path / "train.parquet", 32, seed=0)
    write_token_table(tmp_path / "validation.parquet", 8, seed=1)
    (tmp_path / "tiny.yaml").write_text(TINY_GPT2_CONFIG.format(folder=tmp_path))
    config = load_config(
        InverseDalleConfig,
        tmp_path / "tiny.yaml",
        ["train.precision=bf16-mixed", f"train.gradient_clip_val={CLIP}"],
    )
    norms = GradientNorms()
    train(config, tmp_path / "run", callbacks=[norms])
    assert norms.fused == [True]
    assert len(norms.at_step) == config.train.max_steps
    assert min(norms.before) > 10 * CLIP
    assert max(norms.at_step) == pytest.approx(CLIP, rel=1e-3)


@pytest.mark.skipif(shutil.which("gcc") is None, reason="torch.compile on CPU needs a C compiler")
def test_train_compile_trains_the_compiled_forward_and_keeps_checkpoint_names(
    tmp_path: Path, one_thread: None
) -> None:
    """train.compile: the losses run through torch.compile (the same values as eager), the
    weights keep their names, and training with it runs and exports as usual."""
    write_token_table(tmp_path / "train.parquet", 16, seed=0)
    write_token_table(tmp_path / "validation.parquet", 4, seed=1)
    (tmp_path / "tiny.yaml").write_text(TINY_GPT2_CONFIG.format(folder=tmp_path))
    config = load_config(
        InverseDalleConfig, tmp_path / "tiny.yaml", ["train.compile=true", "train.max_steps=2"]
    )
    run_dir = tmp_path / "run"
    train(config, run_dir)
    module = OCRModule.load_from_checkpoint(run_dir / "last.ckpt").eval()
    names = list(module.state_dict())
    dataset = OCRDataset(
        load_token_table(tmp_path / "train.parquet", config.data), module.layout, module.vocabulary
    )
    batch = default_collate([dataset[i] for i in range(4)])
    eager = module.losses(batch)["loss"]
    module.compile_for_training()
    assert float(module.losses(batch)["loss"]) == pytest.approx(float(eager), abs=1e-5)
    assert list(module.state_dict()) == names and not any("_orig_mod" in n for n in names)


class TinyRegression(ClipsFusedOptimizerGradients, L.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int):
        inputs, targets = batch
        return torch.nn.functional.mse_loss(self.layer(inputs).float(), targets)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW(self.parameters(), lr=1e-2, fused=True)


def test_fused_adamw_clipping_unscales_fp16_gradients_first(one_thread: None) -> None:
    """Under 16-mixed a GradScaler multiplies the loss; the clip applies to the true gradients
    (unscaled here, not again in the fused step), so the step moves weights by a clipped amount."""
    torch.manual_seed(0)
    inputs = torch.randn(16, 8)
    data = torch.utils.data.DataLoader(
        list(zip(inputs, inputs.sum(1, keepdim=True), strict=True)), 8
    )
    module = TinyRegression()
    norms = GradientNorms()
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**10)
    trainer = L.Trainer(
        accelerator="cpu",
        plugins=[MixedPrecision("16-mixed", "cpu", scaler)],
        max_steps=2,
        gradient_clip_val=CLIP,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[norms],
    )
    trainer.fit(module, data)
    assert norms.fused == [True]
    assert len(norms.at_step) == 2
    assert max(norms.at_step) == pytest.approx(CLIP, rel=1e-3)  # not 2**10 × CLIP
    assert scaler.get_scale() == 2.0**10  # no step skipped as overflowing


PRETRAINED = ROOT / "pretrained" / "korean-ocr-tiny"
COMMANDS = {
    "gpt2 predict": (GPT2_SRC / "predict.py", [PRETRAINED, ROOT / "examples"]),
    "gpt2 evaluate": (GPT2_SRC / "evaluate.py", [PRETRAINED, ROOT / "examples" / "labels.csv"]),
    "gpt2 generate": (GPT2_SRC / "generate.py", [PRETRAINED, "--unconditional"]),
    "vqvae predict": (VQVAE_SRC / "predict.py", [PRETRAINED / "vqvae", "--dataset", "x.csv"]),
    "vqvae evaluate": (VQVAE_SRC / "evaluate.py", ["c.yaml", "last.ckpt", "--dataset", "x.csv"]),
}


def run_entry_script(path: Path, args: list, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "argv", [str(path), *map(str, args)])
    runpy.run_path(str(path), run_name="__main__")


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("device", ["cuda:99", "tpu", "not-a-device"])
def test_unavailable_device_is_one_clear_error(
    command: str, device: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    script, args = COMMANDS[command]
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_info:
        run_entry_script(script, [*args, "--output", "out.csv", "--device", device], monkeypatch)
    error = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2, error
    assert error.startswith(f"error: device '{device}'") and "\n" not in error, error


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_without_cuda_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    script, args = COMMANDS["gpt2 predict"]
    with pytest.raises(SystemExit) as exit_info:
        run_entry_script(
            script, [*args, "--output", tmp_path / "r.csv", "--device", "cuda"], monkeypatch
        )
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == (
        "error: device 'cuda': CUDA is not available here; use --device cpu"
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_read_page_takes_a_device_too(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        run_cli(lambda: dispatch(["read-page", str(PRETRAINED), "x.png", "--device", "cuda"]))
    assert exit_info.value.code == 2
    assert "CUDA is not available here" in capsys.readouterr().err


def test_device_cpu_reads_as_the_api_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script, args = COMMANDS["gpt2 predict"]
    run_entry_script(
        script, [*args, "--output", tmp_path / "r.csv", "--device", "cpu"], monkeypatch
    )
    readings = pd.read_csv(tmp_path / "r.csv", keep_default_na=False)
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED)  # default device: cpu here, else cuda
    assert ocr.model.device.type == default_device()
    expected = ocr.read_batch([ROOT / "examples" / Path(p).name for p in readings["img_path"]])
    assert list(readings["text"]) == [text for text, _ in expected]


def test_files_prepared_in_worker_processes_read_as_in_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On CUDA, files are prepared in forked workers, chunk by chunk (LineReader.decode_workers):
    the same grids and readings in the same order, an unreadable file still None in its place."""
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    files = [*sorted((ROOT / "examples").glob("*.png")), broken]
    files.insert(5, broken)
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu")
    assert ocr.decode_workers == 1  # on CPU the cores are torch's
    alone = ocr.tokenize_each(files, batch_size=5), ocr.read_batch(files, batch_size=5)
    monkeypatch.setattr(InverseDalleOCR, "decode_workers", 2)
    monkeypatch.setattr("inverse_dalle.process_reading.PREPARE_CHUNK", 4)  # 14 files: 4 chunks
    in_workers = ocr.tokenize_each(files, batch_size=5), ocr.read_batch(files, batch_size=5)
    assert in_workers == alone
    assert alone[0][5] is None and alone[0][-1] is None and alone[1][5] == ("", 0.0)


def test_bf16_autocast_only_on_cuda() -> None:
    assert not isinstance(fast_inference(torch.device("cpu")), torch.autocast)
    on_cuda = fast_inference(torch.device("cuda"))  # constructing it needs no GPU
    assert isinstance(on_cuda, torch.autocast) and on_cuda.fast_dtype == torch.bfloat16


def test_cpu_encoder_benchmark_compares_precisions_on_the_same_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    output = tmp_path / "encoder.json"
    labels = ROOT / "examples" / "labels.csv"
    script = ROOT / "benchmarks" / "bench_cpu_encoder.py"
    run_entry_script(script, [PRETRAINED, labels, "--no-compile", "--output", output], monkeypatch)
    result = json.loads(output.read_text())
    assert result["lines"] == 12
    variants = result["variants"]
    assert set(variants) == {"fp32", "bf16_autocast", "fp16_autocast"}
    table = pd.read_csv(labels)
    readings = InverseDalleOCR.from_pretrained(PRETRAINED, device="cpu").read_batch(
        [ROOT / "examples" / name for name in table["img_path"]]
    )
    as_read = score([text for text, _ in readings], list(table["text"])).word_accuracy
    assert variants["fp32"]["word_accuracy"] == pytest.approx(as_read)  # as the reader reads
    assert variants["fp32"]["codes_changed"] == 0.0 and variants["fp32"]["speed_vs_fp32"] == 1.0
    for v in variants.values():
        assert 0.0 <= v["codes_changed"] <= 1.0 and 0.0 <= v["grids_changed"] <= 1.0
        assert v["encoder_seconds"] > 0


@pytest.mark.slow
def test_gpu_check_runs_every_step_at_toy_sizes_on_cpu(tmp_path: Path) -> None:
    """benchmarks/gpu_check.py --cpu: the GPU check's commands and configs, so it cannot rot; on a
    dataset synthesised beforehand (--data, for a GPU machine without the fonts) by the command
    its own synthesise step runs."""
    report_path = tmp_path / "cpu.json"
    data = tmp_path / "data"
    synthesize = [ROOT / "scripts" / "synthesize_dataset.py", data, "--no-progress"]
    run([*synthesize, "--train", 32, "--validation", 8, "--test", 0], tmp_path)
    run(
        [GPU_CHECK, "--cpu", "--data", data, "--root", tmp_path / "root", "--output", report_path],
        tmp_path,
    )
    report = json.loads(report_path.read_text(encoding="utf-8"))
    assert list(report["steps"]) == [
        "synthesize",
        "train_vqvae",
        "tokenize",
        "export_vqvae",
        "train_gpt2",
        "export_gpt2",
        "read",
        "finetune",
        "draw",
        "benchmark",
    ]
    assert all(step["seconds"] > 0 for step in report["steps"].values())
    assert report["steps"]["synthesize"] == {
        "seconds": report["steps"]["synthesize"]["seconds"],
        "images": 40,
        "given": str(data),
    }
    assert report["steps"]["tokenize"]["rows"] == {"train": 32, "validation": 8}
    assert report["steps"]["draw"]["images"] == 2
    for training in ("train_vqvae", "train_gpt2"):  # logged by ocr_common.data_wait
        assert 0.0 <= report["steps"][training]["data_wait_share"] < 1.0
    assert report["steps"]["benchmark"]["training_precision"] == "fp32"
