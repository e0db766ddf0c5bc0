"""Bad input and faults (issue 17): each either gives one `error: …` line and exit 2, or is
counted and skipped with every input row kept; nothing of the user's is ever deleted."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from training_helpers import expect_cli_error, run_script

from inverse_dalle import InverseDalleOCR
from inverse_dalle.config import InverseDalleConfig
from inverse_dalle.table_reading import read_rows
from inverse_dalle.training import train
from inverse_dalle.vocabulary import Vocabulary
from ocr_common.aihub import process_aihub
from ocr_common.atomic import atomic_directory
from ocr_common.config import load_config
from ocr_common.errors import UserError
from ocr_common.images import image_size, list_images, load_image
from ocr_common.tables import read_table, write_table
from vqvae.token_table import read_meta, write_meta

REPO = Path(__file__).resolve().parents[1]
PRETRAINED = REPO / "pretrained" / "korean-ocr-tiny"
EXAMPLE = REPO / "examples" / "03-horizontal.png"  # reads 사토시

pytestmark = pytest.mark.usefixtures("one_thread")


# 1. Exporting into a folder of someone else's files must not delete them.


def test_export_refuses_a_folder_that_is_not_an_export(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    folder = tmp_path / "papers"
    folder.mkdir()
    (folder / "thesis.tex").write_text("years of work")
    args = [pipeline["config"], pipeline["ckpt"], folder]
    expect_cli_error("export.py", args, "--overwrite", monkeypatch, capsys)
    assert (folder / "thesis.tex").read_text() == "years of work"
    run_script("export.py", *args, "--overwrite", monkeypatch=monkeypatch)
    assert (folder / "inverse_dalle.json").is_file() and not (folder / "thesis.tex").exists()
    run_script("export.py", *args, monkeypatch=monkeypatch)  # an export of ours is replaced


def test_atomic_directory_keeps_others_and_removes_a_killed_runs_leftovers(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()
    (target / "notes.txt").write_text("mine")
    with (
        pytest.raises(UserError, match="not written by this project"),
        atomic_directory(target, "ours.json"),
    ):
        pass
    assert (target / "notes.txt").is_file()
    dead = tmp_path / ".out.partial-999999999"  # no such process
    alive = tmp_path / f".out.partial-{os.getppid()}"  # a concurrent writer's work in progress
    for leftover in (dead, alive):
        leftover.mkdir()
    with atomic_directory(target, "ours.json", overwrite=True) as staging:
        (staging / "ours.json").write_text("{}")
    assert sorted(p.name for p in target.iterdir()) == ["ours.json"]
    assert not dead.exists() and alive.exists()


def test_ship_pretrained_refuses_a_folder_that_is_not_an_export(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    run_root = tmp_path / "run"
    shutil.copytree(pipeline["export"], run_root / "export")
    (run_root / "report.json").write_text(json.dumps({"stages": {"export-gpt2": {}}}))
    (run_root / "report.md").write_text("# report\n\nmeasured\n")
    out = tmp_path / "home"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"irreplaceable")
    monkeypatch.setattr(sys, "argv", ["ship_pretrained.py", str(run_root), str(out)])
    with pytest.raises(SystemExit) as exit_info:
        import runpy

        runpy.run_path(str(REPO / "scripts" / "ship_pretrained.py"), run_name="__main__")
    assert exit_info.value.code == 2 and "--overwrite" in capsys.readouterr().err
    assert (out / "photo.jpg").read_bytes() == b"irreplaceable"


# 2. Resuming with a table whose vocabulary differs would train on shifted token ids.


def test_resume_with_a_table_of_another_vocabulary_is_refused(
    pipeline: dict[str, Path], tmp_path: Path
) -> None:
    table = read_table(pipeline["folder"] / "train.parquet", ("visual_tokens",))
    table["text"] = [f"漢{text}" for text in table["text"]]  # a character outside the base set
    write_table(table, tmp_path / "train.parquet")
    write_meta(tmp_path / "train.parquet", read_meta(pipeline["folder"] / "train.parquet"))
    config = load_config(
        InverseDalleConfig,
        pipeline["config"],
        [f"data.train_dataset={tmp_path / 'train.parquet'}", "train.max_steps=6"],
    )
    with pytest.raises(UserError, match="vocabulary"):
        train(config, tmp_path / "run", resume_from=pipeline["ckpt"])


def test_resume_from_a_vqvae_checkpoint_is_refused(
    pipeline: dict[str, Path], tmp_path: Path
) -> None:
    state = torch.load(pipeline["ckpt"], map_location="cpu", weights_only=True)
    state["hyper_parameters"] = {"model": {}, "data": {}}  # what a VQVAE checkpoint holds
    torch.save(state, tmp_path / "vqvae.ckpt")
    config = load_config(InverseDalleConfig, pipeline["config"])
    with pytest.raises(UserError, match="not a GPT-2"):
        train(config, tmp_path / "run", resume_from=tmp_path / "vqvae.ckpt")


# 3. Weights that do not fit config.json are an error, not a randomly initialised model.


def test_export_whose_weights_do_not_fit_its_config_is_refused(
    pipeline: dict[str, Path], tmp_path: Path
) -> None:
    export = shutil.copytree(pipeline["export"], tmp_path / "export")
    config = json.loads((export / "config.json").read_text())
    config["n_layer"] += 2
    (export / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError, match="weights"):
        InverseDalleOCR.from_pretrained(export)


@pytest.mark.parametrize("damage", ["empty", "truncated", "missing_vocab", "vocab_size"])
def test_damaged_export_is_one_line_error(
    pipeline: dict[str, Path], tmp_path: Path, damage: str
) -> None:
    export = shutil.copytree(pipeline["export"], tmp_path / "export")
    weights = export / "model.safetensors"
    if damage == "empty":
        weights.write_bytes(b"")
    elif damage == "truncated":
        weights.write_bytes(weights.read_bytes()[:1000])
    elif damage == "missing_vocab":
        (export / "vocab.txt").unlink()
    else:
        config = json.loads((export / "config.json").read_text())
        config["vocab_size"] += 7
        (export / "config.json").write_text(json.dumps(config))
    with pytest.raises(UserError) as error:
        InverseDalleOCR.from_pretrained(export)
    assert "\n" not in str(error.value)


# 4. A label with a newline or tab must still give a loadable export.


def test_vocabulary_of_labels_with_control_characters_round_trips(tmp_path: Path) -> None:
    vocabulary = Vocabulary.build(["가\n나", "다\t라", "마\r바", "사\x0b아"])
    vocabulary.save(tmp_path / "vocab.txt")
    assert Vocabulary.load(tmp_path / "vocab.txt", "syllable").tokens == vocabulary.tokens


# 5, 8, 12, 14. The one image loader: bombs, bit depths, transparency, EXIF, odd files.


def test_decompression_bomb_is_counted_as_unreadable(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "images"
    folder.mkdir()
    shutil.copy(EXAMPLE, folder / "a.png")
    Image.new("L", (400, 100), 255).save(folder / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 15_000)  # the bomb is over twice the limit
    result = read_rows(InverseDalleOCR.from_pretrained(pipeline["export"]), folder)
    assert len(result.rows) == 2 and result.num_unreadable == 1


def _grey(path: Path) -> np.ndarray:
    return np.asarray(load_image(path).convert("L"), dtype=np.int16)


def test_deep_images_read_like_8_bit(tmp_path: Path) -> None:
    eight = np.asarray(Image.open(EXAMPLE).convert("L"))
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / "16.png")
    Image.fromarray(eight.astype(np.float32) / 255).save(tmp_path / "32f.tif")
    Image.fromarray(eight.astype(np.int32) * 257).save(tmp_path / "32i.tif")
    for name in ("16.png", "32f.tif", "32i.tif"):
        assert np.abs(_grey(tmp_path / name) - eight).max() <= 1, name


def test_transparent_background_reads_as_white_paper(tmp_path: Path) -> None:
    ink = 255 - np.asarray(Image.open(EXAMPLE).convert("L"))  # alpha: where the ink is
    rgba = np.zeros((*ink.shape, 4), np.uint8)
    rgba[..., 3] = ink  # black text on transparent black
    Image.fromarray(rgba, "RGBA").save(tmp_path / "text.png")
    expected = np.asarray(Image.open(EXAMPLE).convert("L"), dtype=np.int16)
    assert np.abs(_grey(tmp_path / "text.png") - expected).max() <= 1


def test_sixteen_bit_example_reads_as_the_8_bit_one(tmp_path: Path) -> None:
    eight = np.asarray(Image.open(EXAMPLE).convert("L"))
    Image.fromarray(eight.astype(np.uint16) * 257).save(tmp_path / "16.png")
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED)
    assert ocr.read(tmp_path / "16.png")[0] == ocr.read(EXAMPLE)[0] == "사토시"


def test_exif_orientation_is_applied_by_every_reader(tmp_path: Path) -> None:
    upright = Image.open(EXAMPLE).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view": stored turned the other way
    upright.transpose(Image.Transpose.ROTATE_90).save(tmp_path / "turned.jpg", exif=exif)
    upright.save(tmp_path / "upright.jpg")
    assert image_size(tmp_path / "turned.jpg") == upright.size
    assert load_image(tmp_path / "turned.jpg").size == upright.size
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED)
    assert ocr.read(tmp_path / "turned.jpg")[0] == ocr.read(tmp_path / "upright.jpg")[0]


def test_folders_skip_hidden_files_and_fifos(tmp_path: Path) -> None:
    shutil.copy(EXAMPLE, tmp_path / "a.png")
    (tmp_path / "._a.png").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (tmp_path / "dir.png").mkdir()
    os.mkfifo(tmp_path / "pipe.png")  # opening it would wait for a writer forever
    assert [p.name for p in list_images(tmp_path)] == ["a.png"]


# 6. A CSV row with more fields than the header must not shift the columns.


def test_csv_with_an_unquoted_comma_in_the_first_row_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("img_path,text\nx.png,24,000원\ny.png,사토시\n", encoding="utf-8")
    with pytest.raises(UserError, match="line 2"):
        read_table(path)


def test_missing_input_is_reported_as_missing(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not found"):
        read_table(tmp_path / "nowhere")


# 15. Batched and single reads agree to float precision, not bit for bit.


def test_batched_and_single_reads_agree(pipeline: dict[str, Path]) -> None:
    ocr = InverseDalleOCR.from_pretrained(pipeline["export"])
    images = sorted((pipeline["data"] / "images" / "validation").glob("*.png"))
    batched = ocr.read_batch(images)
    for image, (text, confidence) in zip(images, batched, strict=True):
        single_text, single_confidence = ocr.read(image)
        assert single_text == text
        assert single_confidence == pytest.approx(confidence, rel=1e-4, abs=1e-12)


def test_read_batch_reads_the_good_images_of_a_batch_with_a_bad_one(tmp_path: Path) -> None:
    (tmp_path / "bad.png").write_bytes(b"not an image")
    ocr = InverseDalleOCR.from_pretrained(PRETRAINED)
    readings = ocr.read_batch([EXAMPLE, tmp_path / "bad.png"])
    assert readings[0][0] == "사토시" and readings[1] == ("", 0.0)
    with pytest.raises(UserError, match=r"bad\.png"):
        ocr.read(tmp_path / "bad.png")


def test_exported_files_are_readable_by_others(pipeline: dict[str, Path]) -> None:
    for path in pipeline["export"].rglob("*"):
        assert path.stat().st_mode & 0o044 == 0o044 or path.is_dir(), path


# 10. Settings and files a user can get wrong: one `error:` line and exit 2, not a traceback.


@pytest.mark.parametrize(
    ("override", "match"),
    [
        ("train.accumulate_grad_batches=0", "accumulate_grad_batches"),
        ("model.n_head=0", "n_head"),
        ("train.accelerator=gpu", "accelerator"),
        ("train.precision=bogus", "precision"),
        ("train.num_workers=-1", "num_workers"),
        ("optim.optimizer.lr=-0.1", "lr"),
        ("optim.scheduler.name=bogus", "scheduler"),
    ],
)
def test_bad_training_setting_is_one_line_error(
    pipeline: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
    override: str,
    match: str,
) -> None:
    if override == "train.accelerator=gpu" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = [pipeline["config"], override, "--run-dir", tmp_path / "run"]
    expect_cli_error("train.py", args, match, monkeypatch, capsys)


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"train: {epochs: 1}\n# \xff\xfe\n", "UTF-8"), (b"- a\n- b\n", "mapping")],
)
def test_unreadable_yaml_is_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, content: bytes, match: str
) -> None:
    (tmp_path / "bad.yaml").write_bytes(content)
    expect_cli_error("train.py", [tmp_path / "bad.yaml"], match, monkeypatch, capsys)


def test_token_table_row_over_the_budget_is_one_line_error(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    table = read_table(pipeline["folder"] / "validation.parquet", ("visual_tokens",))
    table.loc[0, "visual_tokens"] = " ".join(["1"] * 40)  # one row of 40 > 32 tokens
    write_table(table, tmp_path / "long.parquet")
    write_meta(tmp_path / "long.parquet", read_meta(pipeline["folder"] / "validation.parquet"))
    args = [pipeline["export"], tmp_path / "long.parquet", "--output", tmp_path / "out.csv"]
    expect_cli_error("predict.py", args, "row 2", monkeypatch, capsys)


# 7. One hostile AIHub annotation is skipped with a reason, never the end of the run.


def test_aihub_skips_hostile_annotations_and_keeps_the_rest(tmp_path: Path) -> None:
    images, labels = tmp_path / "원천", tmp_path / "라벨"
    images.mkdir()
    labels.mkdir()
    shutil.copy(EXAMPLE, images / "sign.png")
    long_id = json.dumps("가" * 100)  # 300 bytes: too long for a file name
    (labels / "sign.json").write_text(
        '{"images": [{"id": 1, "file_name": "sign.png"}], "annotations": ['
        f'{{"id": {long_id}, "image_id": 1, "bbox": [0, 0, 20, 20], "text": "긴"}},'
        '{"id": 2, "image_id": 1, "bbox": [0, 0, 1e400, 5], "text": "무한"},'
        f'{{"id": 3, "image_id": 1, "bbox": [0, 0, {10**400}, 5], "text": "큰"}},'
        '{"id": 4, "image_id": 1, "bbox": [0, 0, Infinity, 5], "text": "무한"},'
        '{"id": 5, "image_id": 1, "bbox": [1e300, 0, 1e300, 5], "text": "넘침"}]}',
        encoding="utf-8",
    )
    (labels / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    report = process_aihub(labels, images, tmp_path / "crops", workers=1, progress=False)
    assert report.kept == 1 and report.skipped["bad_box"] == 4
    assert report.malformed_files == ["deep.json"]
    assert len(read_table(report.output_dataset)) == 1


# 13. An output the command cannot write is refused before the reading, not after it.


@pytest.mark.parametrize(
    ("script", "option"), [("predict.py", "--output"), ("evaluate.py", "--predictions")]
)
def test_unsupported_output_suffix_is_refused_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys, script: str, option: str
) -> None:
    def must_not_read(*args: object, **kwargs: object) -> None:
        raise AssertionError("read the images before checking the output")

    monkeypatch.setattr("inverse_dalle.cli.read_rows", must_not_read)
    args = [PRETRAINED, REPO / "examples" / "labels.csv", option, tmp_path / "out.txt"]
    expect_cli_error(script, args, "unsupported table format", monkeypatch, capsys)


# 9. Predict decodes, shrinks and drops each image: never a chunk of full-size images at once.


def test_reading_a_folder_holds_one_decoded_image_at_a_time(
    pipeline: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gc
    import weakref

    import inverse_dalle.ocr

    folder = tmp_path / "photos"
    folder.mkdir()
    for index in range(6):
        shutil.copy(EXAMPLE, folder / f"{index}.png")
    alive: list[weakref.ref] = []
    most = 0

    def tracked(source: object) -> Image.Image:
        nonlocal most
        gc.collect()
        most = max(most, sum(ref() is not None for ref in alive))
        image = load_image(source)
        alive.append(weakref.ref(image))
        return image

    monkeypatch.setattr(inverse_dalle.ocr, "load_image", tracked)
    result = read_rows(InverseDalleOCR.from_pretrained(pipeline["export"]), folder)
    assert len(result.rows) == 6 and most == 0
