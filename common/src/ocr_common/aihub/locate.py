"""Find the image a label file names, without ever leaving IMAGE_DIR.

AIHub ships labels and images as separate trees (`[라벨]Training/…` and `[원천]Training/…`) whose
folders usually mirror each other, while `file_name` is often a bare name. So an image is looked
for, in order, beside the label file's mirrored folder, at `file_name` under IMAGE_DIR, and then by
its bare name anywhere under IMAGE_DIR if exactly one file has it. Names are compared in NFC
because archives unpacked on macOS store Hangul file names decomposed (NFD).
"""

from __future__ import annotations

import os
import unicodedata
from collections import defaultdict
from pathlib import Path, PurePosixPath


class Unlocatable(Exception):
    """The image cannot be used; `reason` is one of labels.SKIP_REASONS."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _nfc(path: PurePosixPath | str) -> str:
    return unicodedata.normalize("NFC", str(path))


class ImageLocator:
    def __init__(self, image_dir: Path) -> None:
        self.root = image_dir
        self._by_path: dict[str, Path] | None = None  # built on the first miss only
        self._by_name: dict[str, list[Path]] = defaultdict(list)

    def find(self, label_folder: PurePosixPath, file_name: object) -> tuple[Path, str]:
        """(path, path relative to IMAGE_DIR in NFC with '/') of the image, or Unlocatable."""
        if not isinstance(file_name, str) or not file_name.strip():
            raise Unlocatable("missing_image")
        name = PurePosixPath(file_name.replace("\\", "/"))  # labels written on Windows
        if name.is_absolute() or ".." in name.parts:
            raise Unlocatable("unsafe_path")
        candidates = (label_folder / name, name)
        for relative in candidates:
            if (self.root / relative).is_file():
                return self.root / relative, _nfc(relative)
        by_path = self._index()
        for relative in candidates:
            if _nfc(relative) in by_path:
                return by_path[_nfc(relative)], _nfc(relative)
        same_name = self._by_name.get(_nfc(name.name), [])
        if len(same_name) > 1:
            raise Unlocatable("ambiguous_image")
        if not same_name:
            raise Unlocatable("missing_image")
        return same_name[0], _nfc(same_name[0].relative_to(self.root).as_posix())

    def _index(self) -> dict[str, Path]:
        if self._by_path is None:
            self._by_path = {}
            for folder, subfolders, files in os.walk(self.root):
                subfolders[:] = [name for name in subfolders if not name.startswith(".")]
                for name in files:
                    if name.startswith("."):
                        continue
                    path = Path(folder, name)
                    self._by_path[_nfc(path.relative_to(self.root).as_posix())] = path
                    self._by_name[_nfc(name)].append(path)
        return self._by_path
