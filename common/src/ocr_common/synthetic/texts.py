"""What the synthetic images say: Korean words, dictionary forms, random syllables, sign phrases.

Four sources, mixed by weight:
- `wordfreq`: the Korean word-frequency list. It is tokenised into morphemes, so endings such as
  는, 을, 습니다 rank high; frequencies are damped (square root) and one-syllable entries,
  mostly particles, are down-weighted so real words dominate.
- `hunspell`: Debian's hunspell-ko dictionary (inflected forms too), stored as decomposed jamo.
- `syllables`: random KS X 1001 syllables, so every one of the 2 350 appears in a large set.
- `sign`: shop-sign phrases mixing words, digits and Latin letters (약국, 3층, 02-123-4567, CAFE).
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import wordfreq

from ocr_common.hangul import is_hangul_syllable, ksx1001_hangul

HUNSPELL_DICTIONARY = Path("/usr/share/hunspell/ko.dic")
SOURCE_WEIGHTS = {"wordfreq": 0.35, "hunspell": 0.25, "syllables": 0.15, "sign": 0.25}
MAX_CHARS = 12

_SINGLE_SYLLABLE_WEIGHT = 0.1
# Word lists read better as one string each than as one literal per line.
_SIGN_SUFFIXES = (  # noqa: SIM905
    "마트 약국 병원 식당 카페 학원 은행 치과 의원 미용실 편의점 부동산 세탁소 주차장 빌딩 "
    "아파트 교회 센터 치킨 분식 횟집 노래방 PC방 호프 서점 문구 정육점 안경 꽃집 베이커리"
).split()
_LATIN_WORDS = (  # noqa: SIM905
    "CAFE COFFEE PC ATM TEL OPEN SALE HOTEL MART BAR PARKING BAKERY STUDIO BEAUTY HAIR NAIL "
    "SHOP FOOD KOREA SEOUL BUS EXIT CU GS25 KT SK LG Wi-Fi Pizza Fitness Coffee Beer"
).split()


@dataclass(frozen=True)
class Lexicon:
    """Words with sampling weights; draws with one uniform number and a binary search."""

    words: tuple[str, ...]
    cumulative: np.ndarray  # (len(words),) increasing, last = 1

    @classmethod
    def weighted(cls, words: Sequence[str], weights: Sequence[float]) -> Lexicon:
        cumulative = np.cumsum(np.asarray(weights, dtype=np.float64))
        return cls(tuple(words), cumulative / cumulative[-1])

    def sample(self, rng: np.random.Generator) -> str:
        index = int(np.searchsorted(self.cumulative, rng.random(), side="right"))
        return self.words[min(index, len(self.words) - 1)]


def is_korean_word(text: str, max_chars: int = MAX_CHARS) -> bool:
    """Hangul syllables (digits and single inner spaces allowed), at most `max_chars` long."""
    return (
        0 < len(text) <= max_chars
        and text == text.strip()
        and "  " not in text
        and any(is_hangul_syllable(char) for char in text)
        and all(is_hangul_syllable(char) or char.isdigit() or char == " " for char in text)
    )


def wordfreq_lexicon(max_chars: int = MAX_CHARS) -> Lexicon:
    frequencies = wordfreq.get_frequency_dict("ko")
    words = sorted(word for word in frequencies if is_korean_word(word, max_chars))
    weights = [
        np.sqrt(frequencies[word]) * (_SINGLE_SYLLABLE_WEIGHT if len(word) == 1 else 1.0)
        for word in words
    ]
    return Lexicon.weighted(words, weights)


def hunspell_lexicon(path: str | os.PathLike, max_chars: int = MAX_CHARS) -> Lexicon | None:
    """Dictionary words, uniformly weighted; None when the dictionary is not installed."""
    path = Path(path)
    if not path.is_file():
        return None
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()[1:]  # 1st: count
    entries = {unicodedata.normalize("NFC", line.split("/")[0].strip()) for line in lines}
    words = sorted(word for word in entries if is_korean_word(word, max_chars))
    return Lexicon.weighted(words, np.ones(len(words))) if words else None


class TextSampler:
    """Draws `(text, source)` pairs, 1–`max_chars` characters, NFC, from a seeded generator."""

    def __init__(
        self,
        hunspell_path: str | os.PathLike = HUNSPELL_DICTIONARY,
        max_chars: int = MAX_CHARS,
        source_weights: dict[str, float] | None = None,
    ) -> None:
        self.max_chars = max_chars
        self.notes: list[str] = []
        self.words = wordfreq_lexicon(max_chars)
        self.dictionary = hunspell_lexicon(hunspell_path, max_chars)
        self.syllables = ksx1001_hangul()
        weights = dict(source_weights or SOURCE_WEIGHTS)
        if self.dictionary is None:
            self.notes.append(f"hunspell dictionary {hunspell_path} not found: source skipped")
            weights.pop("hunspell", None)
        self._draw: dict[str, Callable[[np.random.Generator], str]] = {
            "wordfreq": self.words.sample,
            "hunspell": self.dictionary.sample if self.dictionary else self.words.sample,
            "syllables": self._random_syllables,
            "sign": self._sign_phrase,
        }
        unknown = sorted(set(weights) - set(self._draw))
        if unknown:
            raise ValueError(f"unknown text source(s): {', '.join(unknown)}")
        self.sources = Lexicon.weighted(list(weights), list(weights.values()))

    def sample(self, rng: np.random.Generator) -> tuple[str, str]:
        while True:  # sign templates can overshoot the length limit: draw again
            source = self.sources.sample(rng)
            text = unicodedata.normalize("NFC", self._draw[source](rng))
            if 0 < len(text) <= self.max_chars:
                return text, source

    def _random_syllables(self, rng: np.random.Generator) -> str:
        length = int(rng.integers(1, min(6, self.max_chars) + 1))
        return "".join(self.syllables[i] for i in rng.integers(0, len(self.syllables), length))

    def _short_word(self, rng: np.random.Generator) -> str:
        while True:
            word = self.words.sample(rng)
            if len(word) <= 4:
                return word

    def _sign_phrase(self, rng: np.random.Generator) -> str:
        word = self._short_word(rng)
        suffix = _SIGN_SUFFIXES[rng.integers(len(_SIGN_SUFFIXES))]
        latin = _LATIN_WORDS[rng.integers(len(_LATIN_WORDS))]
        other = self._short_word(rng)
        number = int(rng.integers(1, 100))
        floor = int(rng.integers(1, 21))
        templates = (
            lambda: f"{word}{suffix}",
            lambda: f"{word} {suffix}",
            lambda: f"{word} {other} {suffix}",
            lambda: f"{word} {other}",
            lambda: f"{floor}층 {suffix}",
            lambda: f"{word} {number}호점",
            lambda: f"제{number}주차장",
            lambda: f"{number}번 출구",
            lambda: f"{latin} {word}",
            lambda: f"{word}{latin}",
            lambda: f"{number * 1000:,}원",
            lambda: _phone_number(rng),
            lambda: f"{_capitals(rng)} {suffix}",
        )
        return templates[rng.integers(len(templates))]()


def _phone_number(rng: np.random.Generator) -> str:
    area = ("02", "031", "051", "010", "064")[rng.integers(5)]
    middle = int(rng.integers(100, 10000))
    return f"{area}-{middle}-{int(rng.integers(0, 10000)):04d}"


def _capitals(rng: np.random.Generator) -> str:
    return "".join(chr(ord("A") + i) for i in rng.integers(0, 26, int(rng.integers(2, 5))))
