"""The JSON files of exports, token tables, reports and benchmarks: one format, one-line errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError


def read_json(path: str | os.PathLike, missing: str) -> dict[str, Any]:
    """The JSON object in `path`; a missing file is a UserError saying `missing`, a malformed one
    a UserError naming the parse error."""
    path = Path(path)
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    if not isinstance(values, dict):
        raise UserError(f"{path}: not a JSON object")
    return values


def write_json(path: str | os.PathLike, values: Any) -> None:
    """Indented UTF-8 JSON (Korean stays readable), written atomically."""
    write_text_atomic(path, json.dumps(values, indent=2, ensure_ascii=False) + "\n")
