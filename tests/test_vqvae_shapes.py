"""The dynamic-shape template solver and the pixel placement inside a template."""

from __future__ import annotations

import math

import pytest
import torch
from PIL import Image

from vqvae.images import PAD_VALUE, to_template_tensor
from vqvae.shapes import (
    choose_template,
    maximal_templates,
    place,
    square_template,
    wasted_slot_share,
)

BUDGETS = [2, 16, 64, 128, 256]


@pytest.mark.parametrize("budget", BUDGETS)
def test_templates_respect_budget_and_are_maximal(budget: int) -> None:
    templates = maximal_templates(budget)
    assert templates
    for rows, cols in templates:
        assert rows * (cols + 1) <= budget
        assert rows * (cols + 2) > budget  # one more column does not fit
        assert (rows + 1) * (cols + 1) > budget  # one more row does not fit
    # Every fitting template is dominated by a maximal one.
    for rows in range(1, budget):
        for cols in range(1, budget):
            if rows * (cols + 1) <= budget:
                assert any(r >= rows and c >= cols for r, c in templates)


@pytest.mark.parametrize("budget", BUDGETS)
@pytest.mark.parametrize("size", [(400, 100), (100, 400), (64, 64), (1000, 20), (31, 700)])
def test_choice_has_the_closest_log_aspect(budget: int, size: tuple[int, int]) -> None:
    width, height = size
    rows, cols = choose_template(width, height, budget)
    best = min(
        abs(math.log(c / r) - math.log(width / height)) for r, c in maximal_templates(budget)
    )
    assert abs(math.log(cols / rows) - math.log(width / height)) == pytest.approx(best)


def test_known_templates() -> None:
    assert choose_template(480, 100, 128) == (5, 24)  # 4.8:1 → 40×192 px at f8
    assert choose_template(400, 100, 128) in {(5, 24), (6, 20)}  # 4:1 lies exactly between
    assert choose_template(100, 400, 128)[0] > choose_template(100, 400, 128)[1]
    assert square_template(128) == (10, 10)


def test_dynamic_templates_waste_less_than_square_padding() -> None:
    sizes = [(400, 100), (300, 60), (80, 320), (500, 90)]
    assert wasted_slot_share(sizes, 128, 8) < wasted_slot_share(sizes, 128, 8, square=True)


@pytest.mark.parametrize("size", [(400, 100), (100, 400), (37, 13)])
def test_image_is_resized_into_its_template_and_padded(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (255, 255, 255))
    template = choose_template(*size, 128)
    tensor, placement = to_template_tensor(image, template, 8)
    assert tensor.shape == (3, template[0] * 8, template[1] * 8)
    assert placement == place(*size, template, 8)
    assert placement.width == template[1] * 8 or placement.height == template[0] * 8  # fills a side
    assert torch.all(tensor[:, : placement.height, : placement.width] == 1.0)
    assert torch.all(tensor[:, placement.height :, :] == PAD_VALUE)
    assert torch.all(tensor[:, :, placement.width :] == PAD_VALUE)
