"""Korean fonts on this machine: discovery, the train / held-out split, and the glyph check.

Fonts come from fontconfig (`fc-list :lang=ko`), the npm families `ocr_common.fontsource`
installs and, when installed, the pip fallback package `manimgx_fonts_cjk` (Noto Sans
CJK in a .ttc). The Un* and Baekmuk families are held out to measure generalisation to unseen
fonts; every other Korean text face trains (the Chinese and Japanese cuts of Noto CJK are skipped:
their Hangul is the KR cut's).

A font that lists a character may still draw it as a blank or as its .notdef box (Baekmuk Dotum
draws 쏀 as nothing), so `draws_text` looks at the pixels, once per font and character.

    python -m ocr_common.fonts --summary
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

from PIL import ImageFont

TRAIN = "train"
HELDOUT = "heldout"

_HELDOUT_FAMILY = re.compile(r"^Un[A-Z]|^Baekmuk")  # UnBatang, UnDotum, … but not Unifont
# Old-Hangul companions of a family already in the set (meant for archaic jamo, not signs), and
# the non-Korean cuts of Noto CJK, whose Hangul repeats the KR cut's.
_NOT_TEXT_FAMILY = re.compile(r"YetHangul|Yetgul|CJK (JP|SC|TC|HK)\b|^Unifont")
# A Hangul text font draws every one of these common syllables.
_HANGUL_PROBE = "가나다라마바사아자차카타파하한글국어읽기"
_CHECK_SIZE = 24  # px; large enough that a real glyph has ink, small enough to be quick
_MISSING_CHAR = "\U0010fffd"  # private use, mapped by no font: renders as .notdef
_FONT_SUFFIXES = (".ttf", ".otf", ".ttc", ".otc")
_PIP_FALLBACK = "manimgx_fonts_cjk"
FONTSOURCE_DIR = Path.home() / ".local" / "share" / "fonts" / "fontsource"  # ocr_common.fontsource


@dataclass(frozen=True, order=True)
class FontFace:
    """One face of a font file (a .ttc holds several; `index` picks one)."""

    name: str  # unique and file-name safe, e.g. NotoSansCJKkr-Regular; the table's `font` column
    path: str
    index: int
    family: str
    style: str

    def load(self, size: int) -> ImageFont.FreeTypeFont:
        return _load(self.path, self.index, size)


# Bounded: a loaded CJK face holds about 1 MB, and 50 faces × 49 sizes would hold gigabytes,
# while reloading one takes under a millisecond.
@lru_cache(maxsize=128)
def _load(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


def split_of(face: FontFace) -> str | None:
    """`train`, `heldout`, or None for a font in neither family group."""
    if _NOT_TEXT_FAMILY.search(face.family):
        return None
    if _HELDOUT_FAMILY.search(face.family):
        return HELDOUT
    return TRAIN


def _fontconfig_faces() -> list[FontFace]:
    if shutil.which("fc-list") is None:
        return []
    fields = "%{file}\t%{index}\t%{family[0]}\t%{style[0]}\t%{postscriptname}\n"
    result = subprocess.run(
        ["fc-list", "--format", fields, ":lang=ko"], capture_output=True, text=True, check=False
    )
    faces = []
    for line in result.stdout.splitlines():
        parts = line.split("\t")
        if len(parts) != 5 or not parts[1].isdigit():
            continue
        path, index, family, style, postscript = parts
        name = postscript or f"{family}-{style}".replace(" ", "")
        faces.append(FontFace(name, path, int(index), family, style))
    return faces


def faces_in_file(path: str | Path) -> list[FontFace]:
    """Every face of a font file, named from the font itself (for files fontconfig cannot see)."""
    faces = []
    for index in range(256):
        try:
            font = ImageFont.truetype(str(path), 12, index=index)
        except OSError:
            break
        family, style = font.getname()
        faces.append(
            FontFace(f"{family}-{style}".replace(" ", ""), str(path), index, family, style)
        )
    return faces


def _faces_in_folders(folders: list[Path]) -> list[FontFace]:
    faces = []
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.suffix.lower() in _FONT_SUFFIXES:
                faces.extend(faces_in_file(path))
    return faces


def _pip_fallback_faces() -> list[FontFace]:
    spec = importlib.util.find_spec(_PIP_FALLBACK)
    if spec is None or not spec.submodule_search_locations:
        return []
    return _faces_in_folders([Path(folder) for folder in spec.submodule_search_locations])


def discover_fonts() -> list[FontFace]:
    """All fonts found, sorted by name. The Fontsource folder is read directly because fontconfig
    leaves out of `:lang=ko` a face lacking a few rare jamo; the pip fallback only adds what the
    system lacks."""
    system = {face.name: face for face in _fontconfig_faces()}
    extra: dict[tuple[str, str], FontFace] = {(f.family, f.style): f for f in system.values()}
    for face in _faces_in_folders([FONTSOURCE_DIR]) + _pip_fallback_faces():
        extra.setdefault((face.family, face.style), face)  # only what fontconfig lacks
    return sorted({*system.values(), *extra.values()})


def is_hangul_text_font(face: FontFace) -> bool:
    try:
        return draws_text(face, _HANGUL_PROBE)
    except OSError:  # unreadable or unsupported font file
        return False


@cache
def fonts_by_split() -> dict[str, list[FontFace]]:
    """The usable Korean text fonts of this machine: {"train": [...], "heldout": [...]}."""
    split: dict[str, list[FontFace]] = {TRAIN: [], HELDOUT: []}
    for face in discover_fonts():
        group = split_of(face)
        if group is not None and is_hangul_text_font(face):
            split[group].append(face)
    return split


@cache
def _notdef_signature(face: FontFace) -> tuple[tuple[int, int], bytes]:
    mask = face.load(_CHECK_SIZE).getmask(_MISSING_CHAR)
    return mask.size, bytes(mask)


@cache
def draws_char(face: FontFace, char: str) -> bool:
    """True when the font draws `char` with ink that is not its .notdef box."""
    if char.isspace():
        return True
    mask = face.load(_CHECK_SIZE).getmask(char)
    if mask.getbbox() is None:
        return False
    return (mask.size, bytes(mask)) != _notdef_signature(face)


def draws_text(face: FontFace, text: str) -> bool:
    return all(draws_char(face, char) for char in text)


def summary() -> str:
    """Which Korean fonts were found, per split, as printed by `--summary`."""
    split = fonts_by_split()
    lines = []
    for group, label in ((TRAIN, "training fonts"), (HELDOUT, "held-out fonts")):
        faces = split[group]
        families = sorted({face.family for face in faces})
        lines.append(f"{label}: {len(faces)} faces in {len(families)} families")
        lines.extend(f"  {family}" for family in families)
    unused = len(discover_fonts()) - sum(len(faces) for faces in split.values())
    lines.append(f"not used: {unused} faces (other families, old-Hangul or CJK JP/SC/TC/HK)")
    if not split[TRAIN]:
        lines.append(
            "no training font: install Debian fonts-nanum / fonts-noto-cjk, "
            f"or `pip install {_PIP_FALLBACK.replace('_', '-')}`"
        )
    if not split[HELDOUT]:
        lines.append(
            "no held-out font: install Debian fonts-unfonts-core / fonts-baekmuk "
            "(the test-heldout-fonts split needs one)"
        )
    return "\n".join(lines)


def listing() -> str:
    """One line per usable face: split, name, file and face index."""
    return "\n".join(
        f"{group}\t{face.name}\t{face.path}\t{face.index}"
        for group, faces in fonts_by_split().items()
        for face in faces
    )


def main() -> None:
    parser = argparse.ArgumentParser(description="Korean fonts found on this machine, per split.")
    parser.add_argument(
        "--summary", action="store_true", help="families per split instead of every face"
    )
    args = parser.parse_args()
    print(summary() if args.summary else listing())


if __name__ == "__main__":
    main()
