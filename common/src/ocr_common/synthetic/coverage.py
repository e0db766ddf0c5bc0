"""How much of the Korean character set a set of texts exercises."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from ocr_common.hangul import ksx1001_hangul


@dataclass(frozen=True)
class CharacterCoverage:
    distinct_characters: int  # any character, spaces excluded
    ksx1001_seen: int  # of the 2 350 KS X 1001 syllables

    @property
    def ksx1001_share(self) -> float:
        return self.ksx1001_seen / len(ksx1001_hangul())

    def __str__(self) -> str:
        return (
            f"{self.ksx1001_seen}/{len(ksx1001_hangul())} KS X 1001 syllables "
            f"({self.ksx1001_share:.1%}), {self.distinct_characters} distinct characters"
        )


def character_coverage(texts: Iterable[str]) -> CharacterCoverage:
    seen = {char for text in texts for char in text if not char.isspace()}
    return CharacterCoverage(len(seen), len(seen & set(ksx1001_hangul())))
