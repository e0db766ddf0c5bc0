"""The dynamic-shape template solver and the pixel placement inside a template."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image

from vqvae.images import PAD_VALUE, to_pil, to_template_tensor, trim_padding
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


def _text_line(ink: tuple[int, int, int], paper: tuple[int, int, int]) -> Image.Image:
    image = Image.new("RGB", (120, 40), paper)
    image.paste(ink, (20, 12, 100, 28))  # a bar of "ink" inside a margin of "paper"
    return image


@pytest.mark.parametrize(
    ("ink", "paper"),
    [((20, 20, 20), (240, 240, 240)), ((250, 230, 90), (30, 40, 160)), ((200, 30, 30), (90, 0, 0))],
)
def test_one_channel_input_is_dark_ink_on_light_paper_whatever_the_colours(ink, paper) -> None:
    image = _text_line(ink, paper)
    tensor, placement = to_template_tensor(image, choose_template(120, 40, 128), 8, channels=1)
    assert tensor.shape[0] == 1
    content = tensor[0, : placement.height, : placement.width]
    middle, corner = content[content.shape[0] // 2, content.shape[1] // 2], content[0, 0]
    assert middle == pytest.approx(-1.0, abs=0.15)  # ink: black (bicubic ringing sets the 2 %)
    assert corner == pytest.approx(1.0, abs=0.15)  # paper: white, contrast stretched


def test_one_channel_tensor_draws_as_a_grey_rgb_image() -> None:
    image = _text_line((0, 0, 0), (255, 255, 255))
    tensor, _ = to_template_tensor(image, choose_template(120, 40, 128), 8, channels=1)
    drawn = to_pil(tensor)
    assert drawn.mode == "RGB" and drawn.size == (tensor.shape[2], tensor.shape[1])
    red, green, blue = (np.asarray(band) for band in drawn.split())
    assert (red == green).all() and (green == blue).all()


@pytest.mark.parametrize("size", [(37, 13), (120, 40), (50, 150)])
def test_padding_trims_back_to_the_placed_image(size: tuple[int, int]) -> None:
    # A full-height stroke at the right edge of the content stays: only edge runs of padding go.
    image = _text_line((0, 0, 0), (255, 255, 255)).resize(size)
    image.paste((0, 0, 0), (size[0] - 2, 0, size[0], size[1] // 2))
    tensor, placement = to_template_tensor(image, choose_template(*size, 128), 8, channels=1)
    trimmed = trim_padding(to_pil(tensor))
    assert trimmed.size == (placement.width, placement.height)


def test_trimming_keeps_a_pixel_of_an_all_black_image() -> None:
    assert trim_padding(Image.new("RGB", (16, 8))).size == (1, 1)
