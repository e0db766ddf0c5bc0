"""open_arrow_table: the memory-mapped table every rank opens instead of parsing it."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest

from ocr_common.errors import UserError
from ocr_common.tables import arrow_cache_path, open_arrow_table, read_table


def token_table(folder: Path) -> pd.DataFrame:
    folder.mkdir(exist_ok=True)
    return pd.DataFrame(
        {
            "img_path": ["a.png", "b.png", "c.png"],
            "text": [unicodedata.normalize("NFD", "한글"), "NA", "null"],  # NFD, and not NaN
            "visual_tokens": ["1 2\t3 4", "5 6\t7 8", "9 9\t9 9"],
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_arrow_table_reads_like_read_table_and_caches(tmp_path: Path, suffix: str) -> None:
    table = token_table(tmp_path)
    path = tmp_path / f"tokens{suffix}"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path, index=False)
    opened = open_arrow_table(path)
    pd.testing.assert_frame_equal(opened.to_pandas(), read_table(path))
    assert opened["text"][0].as_py() == "한글"
    cache = arrow_cache_path(path)
    built = cache.stat().st_mtime_ns
    open_arrow_table(path)
    assert cache.stat().st_mtime_ns == built  # reused, not rebuilt

    table.loc[0, "visual_tokens"] = "7 7\t7 7"
    table.to_csv(path, index=False) if suffix == ".csv" else table.to_parquet(path, index=False)
    os.utime(path, ns=(built + 10**9, built + 10**9))  # a changed source rebuilds the cache
    assert open_arrow_table(path)["visual_tokens"][0].as_py() == "7 7\t7 7"


def test_arrow_table_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "tokens.parquet"
    token_table(tmp_path).drop(columns="text").to_parquet(path)
    with pytest.raises(UserError, match=re.escape(f"{path}: missing column")):
        open_arrow_table(path)
    with pytest.raises(UserError, match="table not found"):
        open_arrow_table(tmp_path / "nope.csv")
    (tmp_path / "bad.arrow").write_bytes(b"not arrow")
    with pytest.raises(UserError, match=r"bad\.arrow: not a readable Arrow IPC file"):
        open_arrow_table(tmp_path / "bad.arrow")
