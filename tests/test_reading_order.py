"""data.reading_order=columns: wide grids fed column by column, read exactly as trained."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from training_helpers import TINY_GPT2_CONFIG, run_script

from inverse_dalle.config import FinetuneConfig, InverseDalleConfig
from inverse_dalle.data import TokenTable, count_fed_by_columns
from inverse_dalle.export_format import format_metadata, layout_from_metadata
from inverse_dalle.exported import ExportedModel, load_export
from inverse_dalle.finetuning import training_config
from inverse_dalle.lightning_module import OCRModule, with_code_noise
from inverse_dalle.ocr import InverseDalleOCR
from inverse_dalle.reading import candidate_log_likelihoods
from inverse_dalle.token_format import TokenLayout, ocr_example
from inverse_dalle.training import start_from_export, train
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.config import ConfigError, load_config
from ocr_common.errors import UserError
from vqvae.token_table import string_to_grid

COLUMNS = TokenLayout(text_vocab_size=10, num_codes=8, max_visual_length=20, max_text_length=4,
                      reading_order="columns")  # fmt: skip
ROWS = TokenLayout(text_vocab_size=10, num_codes=8, max_visual_length=20, max_text_length=4)
WIDE = [[1, 2, 3, 4], [5, 6, 7, 0]]


def test_a_wide_grid_is_fed_column_by_column() -> None:
    col, code = COLUMNS.column_id, COLUMNS.code_offset
    assert COLUMNS.visual_ids(WIDE) == [
        *(col, code + 1, code + 5),
        *(col, code + 2, code + 6),
        *(col, code + 3, code + 7),
        *(col, code + 4, code + 0),
    ]
    assert COLUMNS.grid(COLUMNS.visual_ids(WIDE)) == WIDE
    assert col == ROWS.vocab_size and COLUMNS.vocab_size == col + 1  # the id after the codebook


def test_tall_grids_and_columns_over_the_budget_are_fed_by_rows() -> None:
    tall = [[1, 2], [3, 4], [5, 6]]
    assert COLUMNS.visual_ids(tall) == ROWS.visual_ids(tall)
    long_line = [list(range(8)) * 2]  # 1 × 16: 16 columns of 2 tokens would need 32 > 20
    assert COLUMNS.visual_ids(long_line) == ROWS.visual_ids(long_line)
    assert COLUMNS.grid(COLUMNS.visual_ids(long_line)) == long_line


def test_rows_order_is_the_original_format() -> None:
    row, code = ROWS.row_id, ROWS.code_offset
    assert ROWS.visual_ids(WIDE) == [
        row,
        *(code + c for c in WIDE[0]),
        row,
        *(code + c for c in WIDE[1]),
    ]
    assert ROWS.vocab_size == ROWS.code_offset + ROWS.num_codes


def test_an_unknown_order_is_refused() -> None:
    with pytest.raises(ValueError, match="reading order"):
        TokenLayout(10, 8, 20, 4, "diagonal")
    with pytest.raises(ConfigError, match=r"data\.reading_order"):
        load_config(
            InverseDalleConfig,
            Path(__file__).parents[1] / "gpt2/config/gpt2-tiny-signs.yaml",
            ["data.reading_order=diagonal"],
        )


def test_the_order_travels_in_the_export_metadata() -> None:
    vocabulary = Vocabulary.build(["가나"])
    layout = TokenLayout(len(vocabulary), 8, 20, 4, "columns")
    written = format_metadata(layout, vocabulary, {}, None, "image_to_text")
    assert layout_from_metadata(written) == layout
    del written["reading_order"]  # an export from before the option reads by rows
    assert layout_from_metadata(written).reading_order == "rows"


@pytest.fixture(scope="module")
def columns_reader(pipeline: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The conftest pipeline's tables, read by a 4-step reader in columns order, exported."""
    folder = tmp_path_factory.mktemp("columns")
    text = TINY_GPT2_CONFIG.format(folder=pipeline["folder"])
    text = text.replace("max_visual_length: 32", "max_visual_length: 48\n  reading_order: columns")
    config_path = folder / "columns.yaml"
    config_path.write_text(text.replace("n_positions: 48", "n_positions: 64"))
    torch.manual_seed(0)
    train(load_config(InverseDalleConfig, config_path), folder / "run")
    with pytest.MonkeyPatch.context() as monkeypatch:
        run_script(
            "export.py", config_path, folder / "run" / "last.ckpt", folder / "export",
            monkeypatch=monkeypatch,
        )  # fmt: skip
    return folder / "export"


def test_a_columns_reader_reads_its_sequences_as_trained(
    columns_reader: Path, pipeline: dict[str, Path]
) -> None:
    """log P(text | grid) through the reading path (prompt cache, explicit positions) equals the
    full transformer on the training example of the same grid and text."""
    reader = InverseDalleOCR.from_pretrained(columns_reader)
    layout = reader.layout
    assert layout.reading_order == "columns"
    rows = pd.read_parquet(pipeline["folder"] / "validation.parquet")
    grids = [string_to_grid(g) for g in rows["visual_tokens"]]
    fed = [layout.by_columns(len(g), len(g[0])) for g in grids]
    assert any(fed) and not all(fed)
    for grid, reference in zip(grids, rows["text"], strict=True):
        text = reference[:4]  # within the tiny reader's 6 characters
        example = ocr_example(layout, grid, reader.vocabulary.encode(text))
        with torch.inference_mode():
            logits = reader.model(
                input_ids=example.input_ids[None], attention_mask=example.attention_mask[None]
            ).logits[0]
        start = layout.max_visual_length  # <s>: it predicts the first character
        targets = example.text_targets[start : start + len(text) + 1]  # … and </s>
        text_logits = logits[start : start + len(targets), : layout.text_vocab_size].float()
        expected = text_logits.log_softmax(-1)[torch.arange(len(targets)), targets].sum()
        (value,) = reader.log_likelihoods([grid], text)
        assert value == pytest.approx(expected.item(), abs=1e-4)


def test_a_columns_reader_is_not_finetuned_into_a_drawer(columns_reader: Path) -> None:
    """Drawing samples and repairs grids row by row (image_sampling.py, grid_repair.py)."""
    finetune = FinetuneConfig()
    finetune.data.train_dataset = "drawings.parquet"
    finetune.model = str(columns_reader)
    with pytest.raises(UserError, match="row by row"):
        training_config(finetune, load_export(columns_reader))


def _continued(pipeline: dict[str, Path], *overrides: str) -> tuple[OCRModule, ExportedModel]:
    """A module for the conftest reader continued (model.init_from) in a 48-token budget."""
    source = load_export(pipeline["export"])
    config = load_config(
        InverseDalleConfig,
        pipeline["config"],
        [
            f"model.init_from={pipeline['export']}",
            "data.max_visual_length=48",
            "model.n_positions=64",
            *overrides,
        ],
    )
    return OCRModule.create(config, source.vocabulary), source


def test_a_rows_reader_continued_by_columns_reads_tall_grids_as_before(
    pipeline: dict[str, Path],
) -> None:
    """model.init_from a rows reader with data.reading_order=columns (layout_growth.py): text
    positions move with the text start, so a grid still fed by rows reads exactly as before."""
    module, source = _continued(pipeline, "data.reading_order=columns")
    start_from_export(module, source)
    model, layout = module.model.eval(), module.layout
    tall = [[1, 2], [3, 4], [5, 6]]
    wide = [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]
    texts = [source.vocabulary.encode("가나"), []]
    before = candidate_log_likelihoods(source.model, source.layout, [tall, wide], [texts] * 2)
    after = candidate_log_likelihoods(model, layout, [tall, wide], [texts] * 2)
    assert after[0] == pytest.approx(before[0], abs=1e-4)
    assert after[1] != pytest.approx(before[1], abs=1e-4)  # the wide grid is now fed by columns
    embeddings = model.transformer.wte.weight
    torch.testing.assert_close(embeddings[layout.column_id], embeddings[layout.row_id])


def test_a_reader_continued_in_a_larger_budget_reads_every_grid_as_before(
    pipeline: dict[str, Path],
) -> None:
    """The same order in 48 tokens instead of 32: room for larger grids, the old ones unchanged."""
    module, source = _continued(pipeline)
    start_from_export(module, source)
    model, layout = module.model.eval(), module.layout
    assert (layout.max_visual_length, source.layout.max_visual_length) == (48, 32)
    grids = [[[1, 2], [3, 4], [5, 6]], [[1, 2, 3, 4, 5], [6, 7, 8, 9, 10]]]
    texts = [source.vocabulary.encode("가나"), []]
    before = candidate_log_likelihoods(source.model, source.layout, grids, [texts] * 2)
    after = candidate_log_likelihoods(model, layout, grids, [texts] * 2)
    assert after == [pytest.approx(scores, abs=1e-4) for scores in before]
    torch.testing.assert_close(model.transformer.wte.weight, source.model.transformer.wte.weight)


@pytest.mark.parametrize("change", ["data.max_visual_length=24", "data.max_text_length=8"])
def test_a_reader_whose_layout_differs_otherwise_is_refused(
    pipeline: dict[str, Path], change: str
) -> None:
    module, source = _continued(pipeline, change)
    with pytest.raises(UserError, match=r"data\.reading_order"):
        start_from_export(module, source)


def test_onnx_reads_a_columns_reader_as_pytorch_does(
    columns_reader: Path, pipeline: dict[str, Path], tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    from inverse_dalle.onnx_export import export_onnx
    from inverse_dalle.onnx_reading import OnnxOCR

    export_onnx(columns_reader, tmp_path)
    images = sorted((pipeline["data"] / "images" / "validation").glob("*.png"))
    assert len(images) == 8
    got = OnnxOCR.from_pretrained(columns_reader, tmp_path, threads=1).read_batch(images)
    expected = InverseDalleOCR.from_pretrained(columns_reader, "cpu").read_batch(images)
    assert [text for text, _ in got] == [text for text, _ in expected]
    for (_, confidence), (_, reference) in zip(got, expected, strict=True):
        assert confidence == pytest.approx(reference, abs=1e-4)


def test_training_counts_the_grids_fed_by_columns(pipeline: dict[str, Path]) -> None:
    table = TokenTable.open(pipeline["folder"] / "train.parquet")
    layout = TokenLayout(10, 64, 48, 6, "columns")
    grids = [string_to_grid(grid) for grid in table.grids]
    expected = sum(layout.by_columns(len(grid), len(grid[0])) for grid in grids)
    assert 0 < count_fed_by_columns(table, layout) == expected < len(table)


def test_code_noise_leaves_column_markers() -> None:
    layout = TokenLayout(text_vocab_size=40, num_codes=1024, max_visual_length=96,
                         max_text_length=8, reading_order="columns")  # fmt: skip
    ids = ocr_example(layout, [list(range(30)), list(range(30, 60))], [5, 6]).input_ids
    torch.manual_seed(0)
    noisy = with_code_noise(ids[None].repeat(32, 1), layout, 0.5)
    is_marker = ids == layout.column_id
    assert is_marker.sum() == 30 and (noisy[:, is_marker] == layout.column_id).all()
    assert (noisy[:, ids >= layout.code_offset] != ids[ids >= layout.code_offset]).any()
