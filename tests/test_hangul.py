from ocr_common.hangul import JAMO, from_jamo, is_hangul_syllable, ksx1001_hangul, to_jamo


def test_ksx1001_has_2350_distinct_syllables():
    syllables = ksx1001_hangul()
    assert len(syllables) == len(set(syllables)) == 2350
    assert all(is_hangul_syllable(s) for s in syllables)
    assert syllables[0] == "가" and syllables[-1] == "힝"
    assert "똠" not in syllables  # a famous modern syllable KS X 1001 lacks


def test_67_jamo_compose_every_modern_syllable():
    assert len(JAMO) == len(set(JAMO)) == 67
    letters = set(JAMO)
    for code in range(0xAC00, 0xD7A4):
        syllable = chr(code)
        jamo = to_jamo(syllable)
        assert set(jamo) <= letters
        assert from_jamo(jamo) == syllable
    assert from_jamo(to_jamo("문자 인식 A1")) == "문자 인식 A1"
