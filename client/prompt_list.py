# SPDX-FileCopyrightText: 2026 gen404 developers
#
# SPDX-License-Identifier: GPL-3.0-or-later

"""A batch's prompts, one per line of a text, all checked before anything is sent.

A bad line refuses the whole batch, named by its line number as the Text Editor
shows it (blank lines count), so the artist fixes it and sends the batch again:
half a batch sent and half refused is harder to repair than none sent.
"""

from __future__ import annotations

import re

from .errors import GatewayError
from .generation import RANDOM_SEED, SEED_MAX, SEED_MIN, model_problem
from .models import GenerationRequest
from .prompts import prompt_problem

MAX_PROMPTS = 50
"""Prompts in one batch: each is a paid task."""
SHOWN_PROBLEMS = 3
"""Bad lines named in one message (the count says how many more)."""
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
"""The Text Editor's line breaks (str.splitlines also breaks at form feeds and more)."""


class PromptListError(GatewayError):
    """The batch cannot be sent as it is: the message says which line and why."""


def prompt_lines(text: str) -> list[tuple[int, str]]:
    """(line number from 1, prompt) of every line that is not blank, spaces stripped."""
    return [
        (number, line.strip())
        for number, line in enumerate(_LINE_BREAK.split(text), start=1)
        if line.strip()
    ]


def read_prompts(text: str, limit: int = MAX_PROMPTS) -> list[str]:
    """The prompts of ``text``, one per line; raises PromptListError when there is none,
    more than ``limit``, or a line the gateway would refuse."""
    lines = prompt_lines(text)
    if not lines:
        raise PromptListError("The batch has no prompt: write one prompt per line.")
    if len(lines) > limit:
        raise PromptListError(
            f"The batch has {len(lines)} prompts: send at most {limit} at once "
            "(each is a paid task). Split the text into smaller batches."
        )
    bad = [(number, line, problem) for number, line in lines if (problem := prompt_problem(line))]
    if bad:
        raise PromptListError(bad_lines_message(bad))
    return [line for _, line in lines]


def bad_lines_message(bad: list[tuple[int, str, str]]) -> str:
    """Which lines are refused and why, for (line number, text, problem) triples."""
    shown = [f"Line {n} ('{_short(line)}'): {problem}" for n, line, problem in bad[:SHOWN_PROBLEMS]]
    more = len(bad) - len(shown)
    if more:
        shown.append(f"And {more} more line{'s' if more > 1 else ''}.")
    return " ".join([*shown, "Nothing was sent: fix the text and generate the batch again."])


def _short(line: str, limit: int = 30) -> str:
    return line if len(line) <= limit else line[: limit - 1] + "…"


def batch_seeds(seed: int, count: int) -> list[int | None]:
    """The seed of each prompt: None (random: one drawn for each) for -1, else ``seed``,
    ``seed`` + 1, ... in prompt order; raises PromptListError when they leave the signed
    32-bit range or would pass -1 (the gateway's "choose one")."""
    if seed == RANDOM_SEED:
        return [None] * count
    last = seed + count - 1
    if seed < SEED_MIN or last > SEED_MAX or seed < RANDOM_SEED <= last:
        raise PromptListError(
            f"A batch of {count} with seed {seed} uses the seeds {seed} to {last}: choose "
            f"a seed from 0 to {SEED_MAX - count + 1}, or -1 for a random seed per prompt."
        )
    return [seed + i for i in range(count)]


def read_batch(text: str, model: str, seed: int) -> list[GenerationRequest]:
    """One checked request per prompt of ``text``, in order; raises GatewayError (a
    PromptListError for the text and the seeds) before anything is sent."""
    problem = model_problem(model, has_prompt=True)
    if problem:
        raise GatewayError(problem)
    prompts = read_prompts(text)
    seeds = batch_seeds(seed, len(prompts))
    requests = [
        GenerationRequest(prompt=prompt, seed=each, model=model)
        for prompt, each in zip(prompts, seeds, strict=True)
    ]
    for request in requests:
        request.validate()
    return requests
