"""A batch's prompt list (one per line, every line checked before anything is sent) and
its grid (prompt order, row-major, spaced by the results' bounds), in plain Python."""

from __future__ import annotations

import itertools
import random

import pytest
from gen404.client.errors import GatewayError
from gen404.client.prompt_list import (
    MAX_PROMPTS,
    PromptListError,
    batch_seeds,
    prompt_lines,
    read_batch,
    read_prompts,
)
from gen404.scene.grid_layout import MIN_GAP, Grid, columns_for


# -- the prompt list -----------------------------------------------------------------------
def _refusal(text: str) -> str:
    with pytest.raises(PromptListError) as caught:
        read_prompts(text)
    return str(caught.value)


def test_one_prompt_per_line_blank_lines_and_spaces_ignored() -> None:
    text = "a red chair\n\n   a blue lamp  \n\t\n  \na green teapot\n"
    assert read_prompts(text) == ["a red chair", "a blue lamp", "a green teapot"]


@pytest.mark.parametrize("newline", ["\r\n", "\r", "\n"], ids=["crlf", "cr", "lf"])
def test_windows_and_old_mac_line_ends(newline: str) -> None:
    text = newline.join(["a red chair", "", "a blue lamp", ""])
    assert read_prompts(text) == ["a red chair", "a blue lamp"]
    assert prompt_lines(text) == [(1, "a red chair"), (3, "a blue lamp")]


def test_only_the_editors_line_breaks_split_a_prompt() -> None:
    """str.splitlines would also break at a form feed or U+2028; the Text Editor does not,
    so the line numbers stay the editor's (and the odd character is refused by name)."""
    assert prompt_lines("a red\x0cchair\nb") == [(1, "a red\x0cchair"), (2, "b")]


def test_a_bad_line_refuses_the_batch_with_its_number_and_why() -> None:
    text = "a red chair\n\na caf\u00e9 table\nab\na blue lamp\n"
    with pytest.raises(PromptListError) as caught:
        read_prompts(text)
    message = str(caught.value)
    assert "Line 3 ('a caf\u00e9 table')" in message and "'\u00e9'" in message
    assert "Line 4 ('ab')" in message and "too short" in message
    assert "Line 1" not in message and "Line 5" not in message
    assert "Nothing was sent" in message


def test_many_bad_lines_are_named_up_to_three() -> None:
    text = "\n".join(f"bad_{i}" for i in range(7))
    message = _refusal(text)
    assert "Line 3" in message and "Line 4" not in message and "And 4 more lines." in message


def test_a_long_bad_line_is_shortened_in_the_message() -> None:
    message = _refusal("x" * 400)
    assert f"('{'x' * 29}…')" in message and "too long (400 characters)" in message


def test_no_prompt_and_too_many_prompts_say_what_to_do() -> None:
    with pytest.raises(PromptListError, match="no prompt: write one prompt per line"):
        read_prompts(" \n\r\n \t ")
    lines = "\n".join(f"a chair number {i}" for i in range(MAX_PROMPTS + 1))
    with pytest.raises(PromptListError, match=f"has {MAX_PROMPTS + 1} prompts: send at most 50"):
        read_prompts(lines)
    assert len(read_prompts(lines.rsplit("\n", 1)[0])) == MAX_PROMPTS


def test_seeds_random_each_or_counting_up_from_the_given_one() -> None:
    assert batch_seeds(-1, 3) == [None, None, None]
    assert batch_seeds(7, 3) == [7, 8, 9]
    assert batch_seeds(2**31 - 3, 3) == [2**31 - 3, 2**31 - 2, 2**31 - 1]
    with pytest.raises(PromptListError, match=r"seeds 2147483646 to 2147483648"):
        batch_seeds(2**31 - 2, 3)
    with pytest.raises(PromptListError, match="-1 for a random seed per prompt"):
        batch_seeds(-3, 5)  # would pass -1, the gateway's "choose one"
    assert batch_seeds(-7, 5) == [-7, -6, -5, -4, -3]


def test_read_batch_makes_one_checked_request_per_prompt() -> None:
    requests = read_batch("a red chair\na blue lamp", "404-3dgs", 40)
    assert [(r.prompt, r.seed, r.model) for r in requests] == [
        ("a red chair", 40, "404-3dgs"),
        ("a blue lamp", 41, "404-3dgs"),
    ]
    with pytest.raises(GatewayError, match="images only"):
        read_batch("a red chair", "404-mesh", -1)


# -- the grid ------------------------------------------------------------------------------
def test_columns_about_square_unless_given() -> None:
    assert [columns_for(n) for n in (1, 2, 4, 5, 9, 10, 50)] == [1, 2, 2, 3, 3, 4, 8]
    assert columns_for(5, columns=2) == 2 and columns_for(3, columns=10) == 3


def test_cells_are_row_major_from_the_origin_along_x_then_minus_y() -> None:
    grid = Grid(count=5, columns=3, origin=(10.0, 20.0))
    grid.sizes = {0: (2.0, 1.0)}  # cell: 2.5 wide, 1.5 deep (gap: a quarter of 2)
    assert grid.cell_size() == (2.5, 1.5)
    centres = [grid.centre(i) for i in range(5)]
    assert centres == [(10.0, 20.0), (12.5, 20.0), (15.0, 20.0), (10.0, 18.5), (12.5, 18.5)]


def _boxes(grid: Grid) -> dict[int, tuple[float, float, float, float]]:
    return {
        i: (x - w / 2, x + w / 2, y - d / 2, y + d / 2)
        for i, ((x, y), (w, d)) in ((i, (grid.centres[i], grid.sizes[i])) for i in grid.sizes)
    }


def _disjoint(a: tuple[float, ...], b: tuple[float, ...]) -> bool:
    return a[1] < b[0] or b[1] < a[0] or a[3] < b[2] or b[3] < a[2]


def _land_all(grid: Grid, order: list[int], sizes: dict[int, tuple[float, float]]) -> dict:
    """Land results in ``order`` as the scene does: built at the cursor (bounds centred
    off it, by a result-specific offset), moved by the shifts returned."""
    where: dict[int, tuple[float, float]] = {}
    for index in order:
        built = (grid.origin[0] + 0.3 * index, grid.origin[1] - 0.1 * index)
        where[index] = built
        for moved, (dx, dy) in grid.land(index, sizes[index], built).items():
            where[moved] = (where[moved][0] + dx, where[moved][1] + dy)
    return where


def test_unequal_results_landing_in_any_order_never_overlap() -> None:
    rng = random.Random(404)
    for _ in range(200):
        count = rng.randint(1, 12)
        sizes = {i: (rng.uniform(0.0, 5.0), rng.uniform(0.0, 5.0)) for i in range(count)}
        grid = Grid(count, columns_for(count), (rng.uniform(-5, 5), rng.uniform(-5, 5)))
        order = rng.sample(range(count), count)
        where = _land_all(grid, order, sizes)
        # Every result sits where the grid says, centred in its own cell.
        for i in range(count):
            assert where[i] == pytest.approx(grid.centre(i))
            assert grid.centres[i] == pytest.approx(grid.centre(i))
        for a, b in itertools.combinations(_boxes(grid).values(), 2):
            assert _disjoint(a, b), (sizes, order)


def test_a_larger_result_landing_later_moves_the_earlier_ones() -> None:
    grid = Grid(count=4, columns=2, origin=(0.0, 0.0))
    assert grid.land(1, (1.0, 1.0), (0.0, 0.0)) == {1: (1.25, 0.0)}  # cell 1.25 wide
    assert grid.land(0, (1.0, 1.0), (0.2, 0.0)) == {0: (-0.2, 0.0)}  # same size: no move
    shifts = grid.land(3, (4.0, 2.0), (0.0, 0.0))  # the cells grow to 5 x 3
    assert shifts == {1: pytest.approx((3.75, 0.0)), 3: pytest.approx((5.0, -3.0))}
    assert grid.centres == {0: (0.0, 0.0), 1: (5.0, 0.0), 3: (5.0, -3.0)}


def test_results_with_no_extent_still_get_a_gap() -> None:
    grid = Grid(count=2, columns=2, origin=(0.0, 0.0))
    grid.land(0, (0.0, 0.0), (0.0, 0.0))
    grid.land(1, (-1.0, 0.0), (0.0, 0.0))  # a nonsense size counts as none
    assert grid.cell_size() == (MIN_GAP, MIN_GAP)
    assert grid.centres[1] == (MIN_GAP, 0.0)


def test_a_cell_outside_the_grid_is_refused() -> None:
    with pytest.raises(IndexError):
        Grid(count=2, columns=2, origin=(0.0, 0.0)).land(2, (1.0, 1.0), (0.0, 0.0))
