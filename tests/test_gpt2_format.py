"""The reader's vocabulary and sequence format: coverage, round trips and loss masks."""

from __future__ import annotations

import random

import pytest

from inverse_dalle.token_format import IGNORE, TokenLayout, ocr_example
from inverse_dalle.vocabulary import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIALS,
    UNK_ID,
    Vocabulary,
)
from ocr_common.errors import UserError
from ocr_common.hangul import JAMO, ksx1001_hangul

ALL_SYLLABLES = "".join(chr(c) for c in range(0xAC00, 0xD7A4))


def test_syllable_vocabulary_covers_ksx1001_ascii_punctuation_and_won() -> None:
    vocabulary = Vocabulary.build([])
    assert vocabulary.tokens[: len(SPECIALS)] == list(SPECIALS)
    text = "".join(ksx1001_hangul()) + "".join(chr(c) for c in range(0x20, 0x7F)) + "₩·…「」"
    ids = vocabulary.encode(text)
    assert UNK_ID not in ids
    assert vocabulary.decode(ids) == text


def test_vocabulary_adds_training_characters_and_counts_unknown() -> None:
    vocabulary = Vocabulary.build(["똠양꿍 ♥"])  # 똠, 꿍 are not in KS X 1001; ♥ is no base char
    assert UNK_ID not in vocabulary.encode("똠양꿍 ♥")
    assert vocabulary.encode("햏")[0] == UNK_ID
    assert vocabulary.unknown_characters("햏 가") == ["햏"]


def test_jamo_vocabulary_round_trips_all_11172_syllables() -> None:
    vocabulary = Vocabulary.build([], text_unit="jamo")
    assert set(JAMO) <= set(vocabulary.tokens)
    assert len(vocabulary) < 300  # 67 letters + ASCII + punctuation, not 11 172 syllables
    ids = vocabulary.encode(ALL_SYLLABLES)
    assert UNK_ID not in ids
    assert vocabulary.decode(ids) == ALL_SYLLABLES


def test_vocabulary_file_round_trip_keeps_the_space(tmp_path) -> None:
    vocabulary = Vocabulary.build(["a b"])
    vocabulary.save(tmp_path / "vocab.txt")
    loaded = Vocabulary.load(tmp_path / "vocab.txt", "syllable")
    assert loaded.tokens == vocabulary.tokens and " " in loaded.tokens


def test_vocabulary_file_without_specials_is_refused(tmp_path) -> None:
    (tmp_path / "vocab.txt").write_text("가\n나\n", encoding="utf-8")
    with pytest.raises(UserError, match="must start with"):
        Vocabulary.load(tmp_path / "vocab.txt", "syllable")


def test_layout_ids_and_embedding_rounding() -> None:
    layout = TokenLayout(
        text_vocab_size=2500, num_codes=16384, max_visual_length=128, max_text_length=16
    )
    assert (layout.row_id, layout.image_pad_id, layout.code_offset) == (2500, 2501, 2502)
    assert layout.vocab_size == 2502 + 16384
    assert layout.embedding_size % 64 == 0 and layout.embedding_size - layout.vocab_size < 64


def test_grid_sequence_round_trip() -> None:
    layout = TokenLayout(100, 64, 32, 8)
    rng = random.Random(0)
    for rows, cols in [(1, 31), (2, 15), (3, 9), (5, 5)]:
        grid = [[rng.randrange(64) for _ in range(cols)] for _ in range(rows)]
        visual = layout.visual_ids(grid)
        assert len(visual) == rows * (cols + 1) <= 32
        assert layout.grid(visual + [layout.image_pad_id] * 3) == grid


def test_grid_too_long_for_the_budget_is_refused() -> None:
    layout = TokenLayout(100, 64, 8, 4)
    with pytest.raises(ValueError, match="max_visual_length"):
        layout.visual_ids([[1, 2, 3, 4, 5, 6, 7, 8]])


def test_ocr_example_layout_masks_and_targets() -> None:
    layout = TokenLayout(10, 8, 12, 4)
    grid = [[1, 2], [3, 4]]
    example = ocr_example(layout, grid, [5, 6])
    ids = example.input_ids.tolist()
    row, pad_img, off = layout.row_id, layout.image_pad_id, layout.code_offset
    visual = [row, off + 1, off + 2, row, off + 3, off + 4]
    assert ids == visual + [pad_img] * 6 + [BOS_ID, 5, 6, EOS_ID, PAD_ID, PAD_ID]
    assert example.attention_mask.tolist() == [1] * 6 + [0] * 6 + [1] * 4 + [0] * 2
    image_targets = example.image_targets.tolist()
    assert image_targets[:5] == visual[1:] and set(image_targets[5:]) == {IGNORE}
    text_targets = example.text_targets.tolist()
    assert text_targets[12:15] == [5, 6, EOS_ID]
    assert set(text_targets[:12] + text_targets[15:]) == {IGNORE}  # no loss on any padding
