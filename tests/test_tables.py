import unicodedata

import pandas as pd
import pytest

from ocr_common.errors import UserError
from ocr_common.tables import read_table, resolve_image_paths, write_table


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_round_trip_keeps_text_like_na(tmp_path, suffix):
    table = pd.DataFrame(
        {"img_path": ["a.png", "b.png"], "text": ["NA", "하정"], "extra": ["x", "y"]}
    )
    path = tmp_path / f"t{suffix}"
    write_table(table, path)
    back = read_table(path)
    assert back.to_dict("list") == table.to_dict("list")
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left


def test_text_is_nfc_normalised(tmp_path):
    nfd = unicodedata.normalize("NFD", "백화점")
    assert nfd != "백화점"
    write_table(pd.DataFrame({"img_path": ["a.png"], "text": [nfd]}), tmp_path / "t.csv")
    assert read_table(tmp_path / "t.csv")["text"].tolist() == ["백화점"]


def test_missing_column_and_file_and_suffix(tmp_path):
    write_table(pd.DataFrame({"path": ["a.png"]}), tmp_path / "t.csv")
    with pytest.raises(UserError, match=r"t\.csv: missing column\(s\) img_path, text"):
        read_table(tmp_path / "t.csv")
    with pytest.raises(UserError, match="table not found"):
        read_table(tmp_path / "none.csv")
    (tmp_path / "t.tsv").write_text("img_path\ta.png\n")
    with pytest.raises(UserError, match="unsupported table format"):
        read_table(tmp_path / "t.tsv")


def test_image_paths_resolve_against_table_folder(tmp_path):
    table = pd.DataFrame({"img_path": ["images/a.png", "/abs/b.png"], "text": ["a", "b"]})
    paths = resolve_image_paths(table, tmp_path / "sub" / "t.csv")
    assert paths[0] == (tmp_path / "sub" / "images" / "a.png").resolve()
    assert str(paths[1]) == "/abs/b.png"
