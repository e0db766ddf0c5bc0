"""Hangul facts the whole project leans on: the KS X 1001 syllables and the jamo letters."""

from __future__ import annotations

import unicodedata
from functools import cache

# Conjoining jamo, the NFD form of every modern syllable: 19 initials, 21 medials, 27 finals.
INITIALS = "".join(chr(c) for c in range(0x1100, 0x1113))
MEDIALS = "".join(chr(c) for c in range(0x1161, 0x1176))
FINALS = "".join(chr(c) for c in range(0x11A8, 0x11C3))
JAMO = INITIALS + MEDIALS + FINALS


@cache
def ksx1001_hangul() -> str:
    """The 2 350 Hangul syllables of KS X 1001 (EUC-KR rows 0xB0–0xC8), in code order."""
    return "".join(
        bytes([lead, trail]).decode("euc-kr")
        for lead in range(0xB0, 0xC9)
        for trail in range(0xA1, 0xFF)
    )


def is_hangul_syllable(char: str) -> bool:
    return "\uac00" <= char <= "\ud7a3"


def to_jamo(text: str) -> str:
    """Decompose syllables into conjoining jamo (NFD); other characters are kept."""
    return unicodedata.normalize("NFD", text)


def from_jamo(text: str) -> str:
    """Recompose conjoining jamo into syllables (NFC)."""
    return unicodedata.normalize("NFC", text)
