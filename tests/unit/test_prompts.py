"""The gateway's prompt rules, checked before anything is sent."""

from __future__ import annotations

import pytest
from gen404.client.prompts import MAX_LENGTH, prompt_problem


@pytest.mark.parametrize(
    "prompt", ["a red chair", "robot (v2): 50% chrome, 1/2 size!", "abc", "x" * MAX_LENGTH]
)
def test_allowed_prompts(prompt: str) -> None:
    assert prompt_problem(prompt) is None


@pytest.mark.parametrize(
    ("prompt", "words"),
    [
        ("ab", "too short"),
        ("   a  ", "too short"),
        ("x" * (MAX_LENGTH + 1), "too long (385 characters)"),
        ('a "quoted" chair', "'\"'"),
        ("a_chair & co #1", "'#' '&' '_'"),
        ("une chaise élégante", "'é'"),
    ],
)
def test_refused_prompts_name_the_problem(prompt: str, words: str) -> None:
    problem = prompt_problem(prompt)
    assert problem is not None and words in problem


def test_accented_letters_are_refused_and_the_message_says_ascii() -> None:
    problem = prompt_problem("café")
    assert problem is not None and "'é'" in problem and "ASCII letters" in problem
