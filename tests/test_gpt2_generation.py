"""Text-to-image: the text-first layout, grid repair, finetuning a tiny reader to draw, drawing from
a prompt (seeded, read back by a reader) and unconditionally (self-captioned), and bad inputs."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from PIL import Image
from training_helpers import copy_as_if_from_another_vqvae, expect_cli_error, run_script
from transformers import AutoModelForCausalLM, GenerationConfig

from inverse_dalle import ImageGenerator, InverseDalleOCR
from inverse_dalle.config import FinetuneConfig, SamplingConfig
from inverse_dalle.exported import load_export
from inverse_dalle.finetuning import TextToImageModule
from inverse_dalle.generation import file_name
from inverse_dalle.grid_repair import (
    EMPTY,
    MISPLACED_ROW,
    RAGGED,
    TOO_LONG,
    count_repairs,
    repair_grid,
)
from inverse_dalle.image_sampling import sample_image_tokens
from inverse_dalle.reading import read_grids
from inverse_dalle.token_format import (
    IGNORE,
    TEXT_TO_IMAGE,
    TokenLayout,
    drop_prompts,
    text_first_example,
    text_prompt,
)
from inverse_dalle.vocabulary import BOS_ID, EOS_ID, PAD_ID
from ocr_common.config import ConfigError, load_config
from ocr_common.errors import UserError
from ocr_common.tables import read_table
from ocr_common.tesseract import tesseract_available
from vqvae.token_table import grid_to_string, string_to_grid

pytestmark = pytest.mark.usefixtures("one_thread")  # the module-scoped fixtures train

CONFIGS = Path(__file__).resolve().parents[1] / "gpt2" / "config"
FINETUNE_STEPS = 6


def test_text_first_example_layout_round_trip() -> None:
    layout = TokenLayout(10, 8, 12, 4)
    grid = [[1, 2, 3], [4, 5, 6]]
    example = text_first_example(layout, grid, [5, 6])
    ids = example.input_ids.tolist()
    row, end, off = layout.row_id, layout.image_pad_id, layout.code_offset
    visual = layout.visual_ids(grid)
    assert ids == [BOS_ID, 5, 6, EOS_ID, PAD_ID, PAD_ID] + visual + [end] * 4
    assert ids[: len(text_prompt([5, 6]))] == text_prompt([5, 6])
    assert layout.grid(ids[layout.image_start(TEXT_TO_IMAGE) :]) == grid  # the inverse
    assert example.attention_mask.tolist() == [1] * 4 + [0] * 2 + [1] * 8 + [0] * 4
    assert example.text_targets.tolist()[:3] == [5, 6, EOS_ID]
    assert set(example.text_targets.tolist()[3:]) == {IGNORE}
    image_targets = example.image_targets.tolist()
    # From the first [ROW]: the rest of the grid, then the end-of-image [IMG_PAD]; nothing else.
    assert image_targets[6:14] == [off + 1, off + 2, off + 3, row, off + 4, off + 5, off + 6, end]
    assert set(image_targets[:6] + image_targets[14:]) == {IGNORE}
    # A grid that fills max_visual_length ends by length: no end target.
    full = text_first_example(layout, [[1, 2, 3, 4, 5], [6, 7, 0, 1, 2]], [5])
    assert end not in full.image_targets.tolist() and end not in full.input_ids.tolist()


LAYOUT = TokenLayout(text_vocab_size=10, num_codes=8, max_visual_length=24, max_text_length=4)
ROW, END, OFF = LAYOUT.row_id, LAYOUT.image_pad_id, LAYOUT.code_offset


def tokens(*rows: list[int] | str) -> list[int]:
    """Token ids of rows of codes; the string "R" is a bare [ROW] token."""
    ids: list[int] = []
    for row in rows:
        ids += [ROW] if row == "R" else [ROW, *(code + OFF for code in row)]
    return ids


WELL_FORMED = tokens([1, 2, 3], [4, 5, 6])


@pytest.mark.parametrize(
    ("sample", "grid", "repairs"),
    [
        (WELL_FORMED, [[1, 2, 3], [4, 5, 6]], ()),
        ([*WELL_FORMED, END, ROW, OFF], [[1, 2, 3], [4, 5, 6]], ()),  # [IMG_PAD] ends the image
        ([*WELL_FORMED, BOS_ID, 3], [[1, 2, 3], [4, 5, 6]], ()),  # so does any text token
        # Width 3 is the most common length: a short row repeats its last code, a long one is cut.
        (
            tokens([1, 2, 3], [4], [5, 6, 7, 0], [1, 2, 3]),
            [[1, 2, 3], [4, 4, 4], [5, 6, 7], [1, 2, 3]],
            (RAGGED,),
        ),
        (tokens([1, 2], [3, 4, 5]), [[1, 2, 2], [3, 4, 5]], (RAGGED,)),  # a tie: the wider
        ([OFF + 1, OFF + 2, *tokens([3, 4])], [[1, 2], [3, 4]], (MISPLACED_ROW,)),
        (tokens([1, 2], "R", "R", [3, 4], "R"), [[1, 2], [3, 4]], (MISPLACED_ROW,)),
        # 28 tokens for a budget of 24: cut after the second row.
        (tokens([1] * 11, [2] * 11, [3] * 3), [[1] * 11, [2] * 11], (TOO_LONG,)),
        # 22 tokens, but padded to width 5 the grid needs 5·6 = 30 > 24: the bottom row goes.
        (
            tokens([1] * 5, [2] * 5, [3] * 5, [4], [5]),
            [[1] * 5, [2] * 5, [3] * 5, [4] * 5],
            (RAGGED, TOO_LONG),
        ),
        ([], [[0]], (EMPTY,)),
        ([END], [[0]], (EMPTY,)),
        (tokens("R", "R"), [[0]], (MISPLACED_ROW, EMPTY)),
    ],
)
def test_repair_grid(sample: list[int], grid: list[list[int]], repairs: tuple[str, ...]) -> None:
    repaired = repair_grid(sample, LAYOUT)
    assert (repaired.grid, repaired.repairs) == (grid, repairs)
    rows, cols = repaired.shape
    assert all(len(row) == cols for row in repaired.grid) and rows * (cols + 1) <= 24


def test_repairs_are_counted() -> None:
    samples = [WELL_FORMED, tokens([1, 2], [3]), [], [ROW] * 25]
    counts = count_repairs(repair_grid(sample, LAYOUT) for sample in samples)
    assert counts == {RAGGED: 1, MISPLACED_ROW: 1, TOO_LONG: 1, EMPTY: 2, "repaired": 3}


def test_both_finetune_configs_load_and_refuse_unknown_keys() -> None:
    for name in ("gpt2-tiny-finetune.yaml", "gpt2-base-finetune.yaml"):
        config = load_config(FinetuneConfig, CONFIGS / name)
        assert config.model and 0 < config.sampling.top_p <= 1
    base = load_config(FinetuneConfig, CONFIGS / "gpt2-base-finetune.yaml")
    assert base.train.precision == "bf16-mixed"
    with pytest.raises(ConfigError, match=r"sampling\.top_q"):
        load_config(FinetuneConfig, CONFIGS / "gpt2-tiny-finetune.yaml", ["sampling.top_q=0.5"])
    with pytest.raises(ConfigError, match="top_p"):
        load_config(FinetuneConfig, CONFIGS / "gpt2-tiny-finetune.yaml", ["sampling.top_p=1.5"])


@pytest.fixture(scope="module")
def drawer(pipeline: dict[str, Path]) -> dict[str, Path]:
    """The tiny reader finetuned for a few steps through the CLI, and its text_to_image export."""
    folder = pipeline["folder"]
    config = folder / "finetune.yaml"
    config.write_text(
        f"""
model: {pipeline["export"]}
data: {{train_dataset: {folder}/train.parquet, val_dataset: {folder}/validation.parquet,
       prompt_dropout: 0.25}}
optim:
  optimizer: {{lr: 3.0e-3}}
  scheduler: {{name: constant_with_warmup, num_warmup_steps: 1, num_training_steps: 100}}
train: {{epochs: 10, max_steps: {FINETUNE_STEPS}, batch_size: 8, accelerator: cpu, devices: 1,
         num_workers: 0, validation_interval: 3, log_every_n_steps: 1}}
sampling: {{top_k: 20, top_p: 0.95, temperature: 0.9}}
"""
    )
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_script(
            "finetune.py",
            config,
            "--run-dir",
            folder / "finetune-run",
            "--export-dir",
            folder / "drawer",
            monkeypatch=monkeypatch,
        )
    return {**pipeline, "drawer": folder / "drawer", "finetune_run": folder / "finetune-run"}


def test_finetune_writes_a_text_to_image_export(drawer: dict[str, Path]) -> None:
    export = drawer["drawer"]
    metadata = json.loads((export / "inverse_dalle.json").read_text())
    reader = json.loads((drawer["export"] / "inverse_dalle.json").read_text())
    assert metadata["order"] == "text_to_image" and reader["order"] == "image_to_text"
    for key in ("text_vocab_size", "num_visual_tokens", "max_visual_length", "vqvae_sha256"):
        assert metadata[key] == reader[key]
    assert (export / "vocab.txt").read_text() == (drawer["export"] / "vocab.txt").read_text()
    generation = GenerationConfig.from_pretrained(export)
    assert generation.do_sample and (generation.top_k, generation.top_p) == (20, 0.95)
    assert generation.eos_token_id == metadata["image_pad_id"]
    finetuned = AutoModelForCausalLM.from_pretrained(export)
    original = AutoModelForCausalLM.from_pretrained(drawer["export"])
    assert finetuned.config.n_layer == original.config.n_layer
    assert not torch.equal(finetuned.lm_head.weight, original.lm_head.weight)  # it trained
    metrics = pd.read_csv(drawer["finetune_run"] / "logs" / "metrics.csv")
    assert metrics["step"].max() == FINETUNE_STEPS - 1
    assert {"train/image_loss", "train/text_loss", "val/image_loss"} <= set(metrics.columns)
    assert "val/word_accuracy" not in metrics.columns  # a drawer is not scored as a reader
    with pytest.raises(UserError, match="text_to_image"):
        InverseDalleOCR.from_pretrained(export)


def test_finetune_refuses_a_non_export_and_a_table_of_another_vqvae(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = drawer["folder"]
    copy_as_if_from_another_vqvae(folder / "train.parquet", folder / "other.parquet")
    never = folder / "never-finetuned"
    common = [folder / "finetune.yaml", "--run-dir", never, "--export-dir", never]
    for override, match in [
        (f"model={folder}", "inverse_dalle.json"),
        (f"data.train_dataset={folder / 'other.parquet'}", "000000000000"),
        ("train.batch_sise=2", "train.batch_sise"),
    ]:
        expect_cli_error("finetune.py", [*common, override], match, monkeypatch, capsys)
    assert not never.exists()


def test_cached_sampling_matches_naive_full_sequence_decoding(drawer: dict[str, Path]) -> None:
    """With top_k=1, the KV-cached sampler (padding dropped, explicit positions) picks what
    plain transformers picks on the full training-format sequence, over the image rows only."""
    exported = load_export(drawer["drawer"])
    model, layout = exported.model, exported.layout
    prompt = text_prompt(exported.vocabulary.encode("가나"))
    start = layout.image_start(TEXT_TO_IMAGE)
    [cached] = sample_image_tokens(
        model, layout, prompt, start, 1, SamplingConfig(top_k=1), seed=0, batch_size=1
    )
    sequence = prompt + [PAD_ID] * (start - len(prompt)) + [layout.row_id]
    mask = [1] * len(prompt) + [0] * (start - len(prompt)) + [1]
    naive = [layout.row_id]
    with torch.no_grad():
        while len(naive) < layout.max_visual_length:
            logits = model(
                input_ids=torch.tensor([sequence]),
                attention_mask=torch.tensor([mask]),
                position_ids=torch.arange(len(sequence))[None],
            ).logits[0, -1, layout.row_id : layout.vocab_size]
            token = int(logits.argmax()) + layout.row_id
            if token == layout.image_pad_id:
                break
            naive.append(token)
            sequence.append(token)
            mask.append(1)
    assert cached == naive


def generate(drawer: dict[str, Path], out: Path, *args: object, monkeypatch) -> pd.DataFrame:
    run_script("generate.py", *args, "--output-dir", out, monkeypatch=monkeypatch)
    return pd.read_csv(out / "captions.csv", keep_default_na=False)


def test_generate_draws_seeded_images_of_their_grid_size(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder, model = drawer["folder"], drawer["drawer"]
    runs = {}
    for name, seed in (("a", 1), ("b", 1), ("c", 2)):
        args = (model, "가나", "--num-images", 5, "--seed", seed, "--batch-size", 2)
        runs[name] = generate(drawer, folder / f"drawn-{name}", *args, monkeypatch=monkeypatch)
    table = runs["a"]
    assert list(table["img_path"]) == [f"{i:04d}.png" for i in range(5)]
    assert set(table["text"]) == {"가나"}
    downsample = load_export(model).tokenizer.downsample
    for row in table.itertuples():
        grid = string_to_grid(row.visual_tokens)
        assert (len(grid), len(grid[0])) == (row.rows, row.cols)
        assert row.rows * (row.cols + 1) <= 32  # within max_visual_length
        with Image.open(folder / "drawn-a" / row.img_path) as image:
            assert image.size == (row.cols * downsample, row.rows * downsample)
    files = {
        name: [(folder / f"drawn-{name}" / p).read_bytes() for p in table["img_path"]]
        for name in runs
    }
    assert files["a"] == files["b"]  # same seed, same images
    assert files["a"] != files["c"]
    # The Python API, with the export's sampling defaults, draws what the CLI drew.
    drawings = ImageGenerator.from_pretrained(model).draw("가나", 5, seed=1, batch_size=2)
    assert [grid_to_string(d.grid.grid) for d in drawings] == list(table["visual_tokens"])
    summary = json.loads((folder / "drawn-a" / "summary.json").read_text())
    sampling = {"top_k": 20, "top_p": 0.95, "temperature": 0.9, "guidance_scale": 1.0}
    assert summary["sampling"] == sampling  # the export's
    repaired = sum(bool(r) for r in table["repairs"])
    assert summary["repairs"]["repaired"] == repaired and summary["num_images"] == 5
    assert "drew 5 image(s)" in capsys.readouterr().out


def test_generate_reads_back_with_a_reader(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    out = drawer["folder"] / "read-back"
    args = (drawer["drawer"], "가나", "--num-images", 4, "--top-k", 5, "--temperature", 1.5)
    table = generate(drawer, out, *args, "--reader", drawer["export"], monkeypatch=monkeypatch)
    summary = json.loads((out / "summary.json").read_text())
    sampling = {"top_k": 5, "top_p": 0.95, "temperature": 1.5, "guidance_scale": 1.0}
    assert summary["sampling"] == sampling
    ocr = InverseDalleOCR.from_pretrained(drawer["export"])
    readings = [ocr.read(out / name)[0] for name in table["img_path"]]
    assert list(table["reading"]) == readings
    assert list(table["match"]) == [r == "가나" for r in readings]
    assert summary["read_back"]["word_accuracy"] == pytest.approx(sum(table["match"]) / 4)
    assert "read back by" in capsys.readouterr().out


def test_text_log_likelihood_of_the_greedy_reading_is_its_confidence(
    drawer: dict[str, Path],
) -> None:
    table = read_table(drawer["folder"] / "validation.parquet", ("visual_tokens",))
    grids = [string_to_grid(s) for s in table["visual_tokens"]]
    ocr = InverseDalleOCR.from_pretrained(drawer["export"])
    readings = ocr.read_grids(grids, batch_size=3)
    for grid, reading in zip(grids, readings, strict=True):
        if reading.ended:  # the confidence then covers the text and its </s>, as the score does
            [log_likelihood] = ocr.log_likelihoods([grid], ocr.text(reading))
            assert log_likelihood == pytest.approx(math.log(reading.confidence), abs=1e-4)
    # Batched over mixed lengths, in order.
    batched = ocr.log_likelihoods(grids, "가나", batch_size=3)
    assert batched == pytest.approx([ocr.log_likelihoods([g], "가나")[0] for g in grids], abs=1e-4)


def test_candidates_keep_the_drawing_the_reader_likes_best(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder, model, reader = drawer["folder"], drawer["drawer"], drawer["export"]
    every = generate(
        drawer, folder / "every", model, "가나", "--num-images", 6, "--seed", 3,
        monkeypatch=monkeypatch,
    )  # fmt: skip
    best = generate(
        drawer, folder / "best", model, "가나", "--num-images", 2, "--candidates", 3,
        "--seed", 3, "--reader", reader, monkeypatch=monkeypatch,
    )  # fmt: skip
    ocr = InverseDalleOCR.from_pretrained(reader)
    grids = ocr.tokenize([folder / "every" / name for name in every["img_path"]])
    scores = ocr.log_likelihoods(grids, "가나")
    expected = [
        every["visual_tokens"][start + max(range(3), key=lambda i: scores[start + i])]
        for start in (0, 3)
    ]
    assert list(best["visual_tokens"]) == expected
    summary = json.loads((folder / "best" / "summary.json").read_text())
    assert summary["candidates"] == 3 and summary["num_images"] == 2
    assert summary["read_back_all_candidates"]["count"] == 6
    assert "best of 3" in capsys.readouterr().out


def test_unconditional_images_are_captioned_by_their_reader(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = drawer["folder"] / "unconditional"
    table = generate(
        drawer, out, drawer["export"], "--unconditional", "--num-images", 3, monkeypatch=monkeypatch
    )
    exported = load_export(drawer["export"])
    grids = [string_to_grid(tokens) for tokens in table["visual_tokens"]]
    readings = read_grids(exported.model, exported.layout, grids)
    assert list(table["text"]) == [exported.vocabulary.decode(r.ids) for r in readings]
    names = [file_name(i, caption) for i, caption in enumerate(table["text"])]
    assert list(table["img_path"]) == names  # the self-caption is in the file name too
    assert sorted(p.name for p in out.glob("*.png")) == sorted(names)
    assert ((table["confidence"] > 0) & (table["confidence"] <= 1)).all()


def test_bad_generation_requests_are_one_line_errors(
    drawer: dict[str, Path], monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = drawer["folder"]
    never = folder / "never"
    for args, match in [
        ([drawer["drawer"], "가햏나♞"], "'♞' '햏'"),  # outside the vocabulary, each named
        ([drawer["drawer"], "가나다라마바사"], "1 to 6"),  # longer than max_text_length
        ([drawer["export"], "가나"], "src/finetune.py"),  # a reader cannot draw from text
        ([drawer["drawer"], "--unconditional"], "text prompt"),
        ([drawer["drawer"]], "either a prompt or --unconditional"),
        ([drawer["drawer"], "가나", "--top-p", "0"], "top_p"),
        ([drawer["drawer"], "가나", "--candidates", "2"], "--reader"),
        ([drawer["drawer"], "가나", "--guidance-scale", "-1"], "guidance_scale"),
        ([drawer["export"], "--unconditional", "--guidance-scale", "2"], "give a prompt"),
    ]:
        expect_cli_error("generate.py", [*args, "--output-dir", never], match, monkeypatch, capsys)
    assert not never.exists()
    kept = folder / "kept"
    kept.mkdir()
    (kept / "notes.txt").write_text("mine")
    expect_cli_error(
        "generate.py", [drawer["drawer"], "가나", "--output-dir", kept], "kept", monkeypatch, capsys
    )
    assert (kept / "notes.txt").read_text() == "mine"


def test_dropped_prompts_become_the_empty_prompt_and_images_stay() -> None:
    layout = TokenLayout(10, 8, 12, 4)
    grids, texts = [[[1, 2], [3, 4]], [[5, 6, 7]]], [[5, 6, 7], [8]]
    examples = [vars(text_first_example(layout, g, t)) for g, t in zip(grids, texts, strict=True)]
    batch = {key: torch.stack([e[key] for e in examples]) for key in examples[0]}
    dropped = drop_prompts(layout, batch, torch.tensor([True, False]))
    for key, value in dropped.items():
        assert torch.equal(value[0], getattr(text_first_example(layout, grids[0], []), key))
        assert torch.equal(value[1], batch[key][1])  # kept as it was
    assert batch["input_ids"][0, 1] == 5  # the batch given is not changed


def test_finetuning_drops_a_seeded_share_of_the_prompts(drawer: dict[str, Path]) -> None:
    exported = load_export(drawer["drawer"])
    config = exported.metadata["training_config"]
    example = vars(text_first_example(exported.layout, [[1, 2]], [5, 6]))
    batch = {key: value.expand(200, -1) for key, value in example.items()}
    module = TextToImageModule(config, exported.vocabulary.tokens, prompt_dropout=0.25)
    built = module.training_batch(batch)
    dropped = built["input_ids"][:, 1] == EOS_ID  # `<s> </s>`: no text
    assert 25 <= int(dropped.sum()) <= 75  # 50 expected
    assert torch.equal(module.training_batch(batch)["input_ids"], built["input_ids"])  # seeded
    assert torch.equal(built["image_targets"], batch["image_targets"])
    plain = TextToImageModule(config, exported.vocabulary.tokens)
    assert plain.training_batch(batch) is batch


def greedy(exported, text: str, scale: float, seed: int = 0) -> list[list[int]]:
    """Two samples of `text` ('' is the empty prompt) with top-k 1 at guidance `scale`."""
    layout = exported.layout
    return sample_image_tokens(
        exported.model,
        layout,
        text_prompt(exported.vocabulary.encode(text)),
        layout.image_start(TEXT_TO_IMAGE),
        2,
        SamplingConfig(top_k=1, guidance_scale=scale),
        seed,
        empty_prompt=text_prompt([]),
    )


def test_guidance_one_is_conditional_sampling_and_zero_ignores_the_prompt(
    drawer: dict[str, Path],
) -> None:
    exported = load_export(drawer["drawer"])
    # Both passes in one batch: the conditional rows are what sampling without guidance draws …
    assert greedy(exported, "가나", 1.0001) == greedy(exported, "가나", 1.0)
    # … and the unconditional ones (the empty prompt, padded and masked) what it draws unprompted.
    unprompted = greedy(exported, "", 1.0)
    assert greedy(exported, "가나", 0.0) == greedy(exported, "다", 0.0) == unprompted
    layout, settings = exported.layout, SamplingConfig(top_p=0.9, guidance_scale=3.0)
    seeded = [
        sample_image_tokens(
            exported.model, layout, text_prompt([5]), layout.text_length, 3, settings, 7,
            empty_prompt=text_prompt([]),
        )
        for _ in range(2)
    ]  # fmt: skip
    assert seeded[0] == seeded[1]
    with pytest.raises(ValueError, match="empty_prompt"):
        sample_image_tokens(exported.model, layout, [], 0, 1, settings, 0)


def test_guidance_default_comes_from_the_export_and_tesseract_judges(
    drawer: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    export = tmp_path / "drawer"
    shutil.copytree(drawer["drawer"], export)
    generation = GenerationConfig.from_pretrained(export)
    generation.guidance_scale = 0.0  # unconditional: every prompt draws the same images
    generation.save_pretrained(export)
    assert ImageGenerator.from_pretrained(export).default_sampling().guidance_scale == 0.0
    tables = [
        generate(drawer, tmp_path / text, export, text, "--num-images", 3, monkeypatch=monkeypatch)
        for text in ("가나", "다")
    ]
    assert list(tables[0]["visual_tokens"]) == list(tables[1]["visual_tokens"])
    args = (export, "가나", "--num-images", 2, "--guidance-scale", 2, "--tesseract")
    if not tesseract_available():
        pytest.skip("tesseract is not installed")
    table = generate(drawer, tmp_path / "judged", *args, monkeypatch=monkeypatch)
    summary = json.loads((tmp_path / "judged" / "summary.json").read_text())
    assert summary["sampling"]["guidance_scale"] == 2.0  # the flag wins
    assert list(table["tesseract_match"]) == [r == "가나" for r in table["tesseract"]]
    assert summary["read_back_tesseract"]["count"] == 2
    assert "read back by Tesseract" in capsys.readouterr().out
