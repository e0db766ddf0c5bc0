import pytest

from ocr_common.metrics import edit_distance, score, score_by_group


@pytest.mark.parametrize(
    ("a", "b", "distance"),
    [
        ("", "", 0),
        ("abc", "", 3),
        ("kitten", "sitting", 3),
        ("백화점", "백회점", 1),
        ("금강", "강금", 2),
    ],
)
def test_edit_distance(a, b, distance):
    assert edit_distance(a, b) == distance == edit_distance(b, a)


def test_scores_match_hand_computation():
    scores = score(["하정 ", "백화", "x"], ["하정", "백화점", "금강"])
    assert scores.count == 3
    assert scores.word_accuracy == pytest.approx(1 / 3)  # trailing space is stripped
    assert scores.cer == pytest.approx((0 + 1 + 2) / (2 + 3 + 2))
    assert scores.one_minus_ned == pytest.approx(1 - (0 + 1 / 3 + 2 / 2) / 3)


def test_groups_and_overall():
    result = score_by_group(["a", "b", "c"], ["a", "x", "c"], ["h", "v", "v"])
    assert set(result) == {"all", "h", "v"}
    assert result["h"].word_accuracy == 1.0
    assert result["v"].word_accuracy == 0.5
    assert result["all"].count == 3


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        score(["a"], [])
