"""The reader end to end on a tiny model: train, export (parity with plain transformers), predict
and evaluate from token tables and from raw images, and every promised bad input."""

from __future__ import annotations

import filecmp
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import torch
from safetensors.torch import load_file
from training_helpers import copy_as_if_from_another_vqvae, expect_cli_error, run_script
from transformers import AutoModelForCausalLM, AutoTokenizer

from inverse_dalle import InverseDalleOCR
from inverse_dalle.checkpoint import load_module
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.data import OCRDataset, TokenTable, load_token_table
from inverse_dalle.lightning_module import OCRModule
from inverse_dalle.reading import read_grids
from inverse_dalle.token_format import ocr_example
from inverse_dalle.vocabulary import EOS_ID, Vocabulary
from ocr_common.config import ConfigError, load_config
from ocr_common.errors import UserError
from ocr_common.tables import read_table, write_table
from vqvae.token_table import read_meta, string_to_grid, write_meta

pytestmark = pytest.mark.usefixtures("one_thread")


def test_training_writes_checkpoint_and_scored_predictions(pipeline: dict[str, Path]) -> None:
    run = pipeline["folder"] / "run"
    assert (run / "last.ckpt").is_file() and (run / "config.yaml").is_file()
    predictions = sorted((run / "predictions").glob("*.csv"))
    assert predictions and set(pd.read_csv(predictions[-1]).columns) == {"prediction", "reference"}
    metrics = pd.read_csv(run / "logs" / "metrics.csv")
    assert {"train/text_loss", "val/word_accuracy", "val/cer"} <= set(metrics.columns)


def test_a_few_steps_lower_the_loss(pipeline: dict[str, Path]) -> None:
    module = load_module(pipeline["ckpt"]).train()
    table = load_token_table(pipeline["folder"] / "train.parquet", module.config.data)
    dataset = OCRDataset(table, module.layout, module.vocabulary)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(8)])
    optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3)
    first = module.losses(batch)
    for _ in range(15):
        loss = module.losses(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    last = module.losses(batch)
    assert last["text_loss"] < 0.7 * first["text_loss"]
    assert last["image_loss"] < first["image_loss"]


def test_reader_learns_to_read_its_training_images(pipeline: dict[str, Path]) -> None:
    """Text positions see the image: greedy readings of 16 training images become their texts.

    A bug that hides the image from the text (mask, positions, layout) still lowers the loss (the
    text prior is learnable alone) but can never get above a few exact readings.
    """
    torch.manual_seed(0)
    trained = load_module(pipeline["ckpt"])
    config = load_config(
        InverseDalleConfig, pipeline["config"], ["model.n_embd=64", "model.n_head=4"]
    )
    module = OCRModule.create(config, trained.vocabulary)
    table = load_token_table(pipeline["folder"] / "train.parquet", config.data)
    dataset = OCRDataset(table, module.layout, module.vocabulary)
    batch = torch.utils.data.default_collate([dataset[i] for i in range(16)])
    optimizer = torch.optim.AdamW(module.parameters(), lr=3e-3)
    for _ in range(150):
        loss = module.losses(batch)["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    readings = read_grids(
        module.model.eval(), module.layout, [string_to_grid(table.grids[i]) for i in range(16)]
    )
    expected = [
        module.vocabulary.decode(
            module.vocabulary.encode(table.texts[i])[: config.data.max_text_length]
        )
        for i in range(16)
    ]
    exact = sum(
        module.vocabulary.decode(r.ids) == text for r, text in zip(readings, expected, strict=True)
    )
    assert exact >= 15


def test_text_loss_ignores_padding(pipeline: dict[str, Path]) -> None:
    """The loss of a sequence does not change with what its padding positions hold."""
    module = load_module(pipeline["ckpt"])
    example = ocr_example(module.layout, [[1, 2, 3], [4, 5, 6]], [10, 11])
    batch = {
        k: getattr(example, k)[None]
        for k in ("input_ids", "attention_mask", "image_targets", "text_targets")
    }
    reference = module.losses(batch)
    scrambled = dict(batch, input_ids=batch["input_ids"].clone())
    scrambled["input_ids"][0, batch["attention_mask"][0] == 0] = 7  # any other token
    changed = module.losses(scrambled)
    assert torch.allclose(reference["loss"], changed["loss"], atol=1e-6)


def test_export_loads_with_plain_transformers_and_matches(pipeline: dict[str, Path]) -> None:
    """minGPT-style parity: the Lightning model and the reloaded export agree exactly."""
    module = load_module(pipeline["ckpt"])
    exported = AutoModelForCausalLM.from_pretrained(pipeline["export"]).eval()
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    grids = [string_to_grid(s) for s in table["visual_tokens"]]
    example = ocr_example(module.layout, grids[0], module.vocabulary.encode("가나"))
    ids, mask = example.input_ids[None], example.attention_mask[None]
    positions = torch.arange(ids.shape[1])[None]
    with torch.no_grad():
        ours = module.model(input_ids=ids, attention_mask=mask, position_ids=positions).logits
        theirs = exported(input_ids=ids, attention_mask=mask, position_ids=positions).logits
    assert torch.allclose(ours, theirs, atol=1e-5)
    ours_read = read_grids(module.model, module.layout, grids)
    theirs_read = read_grids(exported, module.layout, grids)
    assert [r.ids for r in ours_read] == [r.ids for r in theirs_read]
    # The cached, padding-free reader equals naive full-sequence greedy decoding in transformers.
    layout = module.layout
    for grid, reading in zip(grids[:3], theirs_read[:3], strict=True):
        sequence = ocr_example(layout, grid, []).input_ids[: layout.max_visual_length + 1].tolist()
        mask = [int(t != layout.image_pad_id) for t in sequence]
        generated = []
        with torch.no_grad():
            for _ in range(layout.max_text_length + 1):
                logits = exported(
                    input_ids=torch.tensor([sequence]),
                    attention_mask=torch.tensor([mask]),
                    position_ids=torch.arange(len(sequence))[None],
                ).logits[0, -1, : layout.text_vocab_size]
                token = int(logits.argmax())
                if token == EOS_ID:
                    break
                generated.append(token)
                sequence.append(token)
                mask.append(1)
        assert generated == reading.ids
    tokenizer = AutoTokenizer.from_pretrained(pipeline["export"])
    text = "가나 AB₩"
    assert tokenizer(text, add_special_tokens=False).input_ids == module.vocabulary.encode(text)
    assert tokenizer.decode(module.vocabulary.encode(text)) == text


def test_half_export_is_half_the_size_and_reads_the_same(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    half = pipeline["folder"] / "export-half"
    run_script(
        "export.py",
        pipeline["config"],
        pipeline["ckpt"],
        half,
        "--half",
        monkeypatch=monkeypatch,
    )
    full = pipeline["export"]
    assert {t.dtype for t in load_file(half / "model.safetensors").values()} == {torch.float16}
    ratio = (half / "model.safetensors").stat().st_size / (
        full / "model.safetensors"
    ).stat().st_size
    assert 0.45 < ratio < 0.55
    # The VQVAE stays float32: its code choices are those the reader was trained on.
    assert filecmp.cmp(half / "vqvae" / "model.safetensors", full / "vqvae" / "model.safetensors")
    ocr_half, ocr_full = (
        InverseDalleOCR.from_pretrained(half),
        InverseDalleOCR.from_pretrained(full),
    )
    assert {p.dtype for p in ocr_half.model.parameters()} == {torch.float32}
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    grids = [string_to_grid(s) for s in table["visual_tokens"]]
    assert [r.ids for r in ocr_half.read_grids(grids)] == [
        r.ids for r in ocr_full.read_grids(grids)
    ]


def test_export_directory_contents(pipeline: dict[str, Path]) -> None:
    export = pipeline["export"]
    names = {p.name for p in export.iterdir()}
    assert {
        "model.safetensors",
        "config.json",
        "generation_config.json",
        "vocab.txt",
        "tokenizer.json",
        "inverse_dalle.json",
        "README.md",
        "vqvae",
    } <= names
    metadata = json.loads((export / "inverse_dalle.json").read_text())
    assert metadata["format_version"] == 1 and metadata["text_unit"] == "syllable"
    assert len(Vocabulary.load(export / "vocab.txt", "syllable")) == metadata["text_vocab_size"]
    assert not [p for p in export.parent.iterdir() if "partial" in p.name]


def test_ocr_reads_images_like_token_tables(pipeline: dict[str, Path]) -> None:
    ocr = InverseDalleOCR.from_pretrained(pipeline["export"])
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    images = [pipeline["folder"] / p for p in table["img_path"]]
    from_images = ocr.read_batch(images)
    from_tokens = ocr.read_grids([string_to_grid(s) for s in table["visual_tokens"]])
    assert [t for t, _ in from_images] == [ocr.text(r) for r in from_tokens]
    assert all(0.0 < c <= 1.0 for _, c in from_images)
    # A batch of one sums in another order than a batch of eight: equal to float precision only.
    text, confidence = ocr.read(images[0])
    assert text == from_images[0][0]
    assert confidence == pytest.approx(from_images[0][1], rel=1e-4)


def test_predict_from_token_table_folder_and_dataset_table(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, export = pipeline["folder"], pipeline["export"]
    outputs = {}
    for name, source in [
        ("tokens", folder / "validation.parquet"),
        ("dataset", pipeline["data"] / "validation.csv"),
        ("folder", pipeline["data"] / "images" / "validation"),
    ]:
        outputs[name] = folder / f"pred-{name}.csv"
        run_script("predict.py", export, source, "--output", outputs[name], monkeypatch=monkeypatch)
    tokens, dataset, images = (
        pd.read_csv(outputs[n], keep_default_na=False) for n in ("tokens", "dataset", "folder")
    )
    assert list(tokens.columns) == ["img_path", "text", "confidence"] and len(tokens) == 8
    assert list(dataset["text"]) == list(tokens["text"])
    by_name = dict(zip(images["img_path"].map(lambda p: Path(p).name), images["text"], strict=True))
    assert [by_name[Path(p).name] for p in dataset["img_path"]] == list(dataset["text"])


def test_predict_merge_tta_gives_one_row_per_image(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = pipeline["folder"]
    table = read_table(folder / "validation.parquet", ("visual_tokens",))
    repeated = pd.concat([table, table]).sort_index(kind="stable")
    write_table(repeated, folder / "tta.parquet")
    write_meta(folder / "tta.parquet", read_meta(folder / "validation.parquet"))
    run_script(
        "predict.py",
        pipeline["export"],
        folder / "tta.parquet",
        "--merge-tta",
        "--output",
        folder / "tta-pred.csv",
        monkeypatch=monkeypatch,
    )
    merged = pd.read_csv(folder / "tta-pred.csv", keep_default_na=False)
    assert list(merged["img_path"]) == list(table["img_path"])


def test_evaluate_scores_every_row_by_group(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = pipeline["folder"]
    dataset = read_table(pipeline["data"] / "validation.csv")
    dataset.loc[0, "img_path"] = "images/validation/missing.png"  # unreadable: scored as empty
    broken = pipeline["data"] / "validation-broken.csv"
    write_table(dataset, broken)
    out = folder / "scores.json"
    run_script(
        "evaluate.py",
        pipeline["export"],
        broken,
        "--group-by",
        "orientation",
        "--output",
        out,
        "--predictions",
        folder / "readings.csv",
        monkeypatch=monkeypatch,
    )
    report = json.loads(out.read_text())
    assert report["scores"]["all"]["count"] == 8 and report["num_unreadable"] == 1
    readings = read_table(folder / "readings.csv")
    assert list(readings["img_path"]) == list(dataset["img_path"])
    assert list(readings["reference"]) == list(dataset["text"])
    assert float(readings.loc[0, "confidence"]) == 0.0  # the unreadable image, read as empty
    exact = (readings["text"].fillna("") == readings["reference"]).mean()
    assert exact == pytest.approx(report["scores"]["all"]["word_accuracy"])
    groups = set(dataset["orientation"])
    assert sum(report["scores"][g]["count"] for g in groups) == 8
    # The 7 readable images read one at a time: a reading has ended exactly when </s> came
    # within max_text_length tokens, and the report counts those that did not.
    ocr = InverseDalleOCR.from_pretrained(pipeline["export"])
    tokens = read_table(folder / "validation.parquet", ("visual_tokens",))
    alone = [
        ocr.read_grids([grid], 1)[0]
        for grid in ocr.tokenize([folder / p for p in tokens["img_path"][1:]])
    ]
    assert [r.ended for r in alone] == [len(r.ids) <= ocr.layout.max_text_length for r in alone]
    assert report["num_unended"] == sum(not r.ended for r in alone)
    out = capsys.readouterr().out
    assert "word acc" in out
    assert f"{report['num_unended']} reading(s) hit the length limit without </s>" in out


def test_unknown_config_key_is_refused(pipeline: dict[str, Path]) -> None:
    with pytest.raises(ConfigError, match=r"model\.n_embed"):
        load_config(InverseDalleConfig, pipeline["config"], ["model.n_embed=64"])


def test_inconsistent_config_is_refused(pipeline: dict[str, Path]) -> None:
    with pytest.raises((ConfigError, ValueError), match="n_head"):
        load_config(InverseDalleConfig, pipeline["config"], ["model.n_head=3"])
    with pytest.raises((ConfigError, ValueError), match="n_positions"):
        load_config(InverseDalleConfig, pipeline["config"], ["model.n_positions=20"])


def test_token_table_meta_mismatch_names_both_values(pipeline: dict[str, Path]) -> None:
    config = load_config(InverseDalleConfig, pipeline["config"], ["data.num_visual_tokens=128"])
    with pytest.raises(UserError, match=r"64 codes.*128"):
        load_token_table(config.data.train_dataset, config.data)


def test_out_of_vocabulary_characters_become_unk_and_are_counted(pipeline: dict[str, Path]) -> None:
    module = load_module(pipeline["ckpt"])
    arrow = load_token_table(pipeline["folder"] / "train.parquet", module.config.data).arrow
    texts = arrow["text"].to_pylist()
    texts[0] = "햏햏"  # not KS X 1001, not in the training texts
    table = TokenTable(arrow.set_column(arrow.column_names.index("text"), "text", pa.array(texts)))
    dataset = OCRDataset(table, module.layout, module.vocabulary)
    assert dataset.num_unknown == 2
    assert dataset.num_truncated > 0


def test_corrupt_checkpoint_is_one_line_error(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    corrupt = pipeline["folder"] / "corrupt.ckpt"
    corrupt.write_bytes(pipeline["ckpt"].read_bytes()[:2000])
    out = pipeline["folder"] / "never"
    expect_cli_error(
        "export.py", [pipeline["config"], corrupt, out], "corrupt.ckpt", monkeypatch, capsys
    )
    assert not out.exists()


def test_export_of_a_different_model_config_is_refused(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    expect_cli_error(
        "export.py",
        [pipeline["config"], pipeline["ckpt"], pipeline["folder"] / "never", "model.n_layer=3"],
        "model.n_layer",
        monkeypatch,
        capsys,
    )


def test_token_table_from_another_vqvae_is_refused(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = pipeline["folder"]
    copy_as_if_from_another_vqvae(folder / "validation.parquet", folder / "other.parquet")
    expect_cli_error(
        "predict.py",
        [pipeline["export"], folder / "other.parquet", "--output", folder / "never.csv"],
        "000000000000",
        monkeypatch,
        capsys,
    )
    assert not (folder / "never.csv").exists()


def test_not_an_export_directory_is_one_line_error(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    expect_cli_error(
        "evaluate.py",
        [pipeline["folder"], pipeline["folder"] / "train.parquet"],
        "inverse_dalle.json",
        monkeypatch,
        capsys,
    )


def test_train_cli_refuses_unknown_key_and_corrupt_resume(
    pipeline: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run_dir = pipeline["folder"] / "never-run"
    expect_cli_error(
        "train.py",
        [pipeline["config"], "optim.lr=1", "--run-dir", run_dir],
        "optim.lr",
        monkeypatch,
        capsys,
    )
    corrupt = pipeline["folder"] / "corrupt-resume.ckpt"
    corrupt.write_bytes(b"not a checkpoint")
    expect_cli_error(
        "train.py",
        [pipeline["config"], "--resume-from", corrupt, "--run-dir", run_dir],
        "corrupt-resume.ckpt",
        monkeypatch,
        capsys,
    )
    assert not run_dir.exists()


def test_jamo_reader_trains_and_reads_back_composed_text(pipeline: dict[str, Path]) -> None:
    config = load_config(InverseDalleConfig, pipeline["config"], ["data.text_unit=jamo"])
    table = load_token_table(config.data.train_dataset, config.data)
    vocabulary = Vocabulary.build(table.texts, "jamo")
    module = OCRModule.create(config, vocabulary)
    dataset = OCRDataset(table, module.layout, vocabulary)
    assert dataset.num_unknown == 0
    batch = torch.utils.data.default_collate([dataset[i] for i in range(4)])
    assert torch.isfinite(module.losses(batch)["loss"])
    ids = vocabulary.encode("한국어")
    assert len(ids) == 8 and vocabulary.decode(ids) == "한국어"  # 3 syllables, 8 jamo
