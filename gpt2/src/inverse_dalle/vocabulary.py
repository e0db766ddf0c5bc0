"""The character vocabulary: special tokens, then characters (syllables or jamo letters).

Korean OCR users' top complaint about established tools is characters they cannot output, so the
vocabulary always holds every KS X 1001 syllable (or, in jamo mode, the 67 letters that compose all
11 172 modern syllables), printable ASCII, Korean punctuation and ₩, plus any other character of the
training tables.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from ocr_common.atomic import write_text_atomic
from ocr_common.errors import UserError
from ocr_common.hangul import JAMO, from_jamo, ksx1001_hangul, to_jamo

VOCAB_VERSION = 1
BOS, EOS, PAD, UNK = "<s>", "</s>", "<pad>", "<unk>"
SPECIALS = (BOS, EOS, PAD, UNK)
BOS_ID, EOS_ID, PAD_ID, UNK_ID = range(len(SPECIALS))
TEXT_UNITS = ("syllable", "jamo")
PRINTABLE_ASCII = "".join(chr(c) for c in range(0x20, 0x7F))
UNSAFE_IN_LINES = ("Cc", "Zl", "Zp")  # Unicode categories: controls, line/paragraph separators
KOREAN_PUNCTUATION = "₩·‥…‘’“”〈〉《》「」『』【】〔〕※○●□■△▲▽▼◇◆☆★→←↑↓〒°±×÷"


def base_characters(text_unit: str) -> list[str]:
    hangul = JAMO if text_unit == "jamo" else ksx1001_hangul()
    return list(dict.fromkeys(hangul + PRINTABLE_ASCII + KOREAN_PUNCTUATION))


@dataclass
class Vocabulary:
    tokens: list[str]
    text_unit: str = "syllable"
    index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.text_unit not in TEXT_UNITS:
            raise UserError(f"text unit must be one of {TEXT_UNITS}, not '{self.text_unit}'")
        if tuple(self.tokens[: len(SPECIALS)]) != SPECIALS:
            raise UserError(f"vocabulary must start with {' '.join(SPECIALS)}")
        self.index = {token: i for i, token in enumerate(self.tokens)}

    @classmethod
    def build(cls, texts: Iterable[str], text_unit: str = "syllable") -> Vocabulary:
        """The base characters plus every other character of `texts`, in a stable order.

        Control characters (a label's newline or tab) and line separators are left out: vocab.txt
        holds one token per line, so they would split it; they are read as <unk>.
        """
        extra = sorted(
            {
                c
                for text in texts
                for c in cls._units(text, text_unit)
                if unicodedata.category(c) not in UNSAFE_IN_LINES
            }
        )
        return cls([*SPECIALS, *dict.fromkeys(base_characters(text_unit) + extra)], text_unit)

    @staticmethod
    def _units(text: str, text_unit: str) -> str:
        text = unicodedata.normalize("NFC", text)
        return to_jamo(text) if text_unit == "jamo" else text

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, text: str) -> list[int]:
        return [self.index.get(c, UNK_ID) for c in self._units(text, self.text_unit)]

    def decode(self, ids: Iterable[int]) -> str:
        """Characters of `ids` up to the first </s>, skipping other special tokens."""
        chars = []
        for i in ids:
            if i == EOS_ID:
                break
            if i >= len(SPECIALS) and i < len(self.tokens):
                chars.append(self.tokens[i])
        text = "".join(chars)
        return from_jamo(text) if self.text_unit == "jamo" else text

    def unknown_characters(self, text: str) -> list[str]:
        return sorted({c for c in self._units(text, self.text_unit) if c not in self.index})

    def save(self, path: str | os.PathLike) -> None:
        """One token per line, as in the original project's vocab.txt (a space is a line ' ')."""
        write_text_atomic(path, "".join(f"{token}\n" for token in self.tokens))

    @classmethod
    def load(cls, path: str | os.PathLike, text_unit: str) -> Vocabulary:
        try:
            lines = Path(path).read_text(encoding="utf-8").split("\n")
        except FileNotFoundError:
            raise UserError(f"{path}: not found") from None
        except UnicodeDecodeError as error:
            raise UserError(f"{path}: not UTF-8 ({error.reason})") from None
        return cls(lines[:-1] if lines and lines[-1] == "" else lines, text_unit)
