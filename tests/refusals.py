"""The account refusals that end a task at once, and the words the add-on's message
must hold for each (what to do next): one table for the client's and the Blender tests.
"""

from __future__ import annotations

import pytest

from tests.simulator import faults

ACCOUNT_REFUSALS = pytest.mark.parametrize(
    ("fault", "words"),
    [
        pytest.param(faults.login_required(), "log in to your 404 account", id="login"),
        pytest.param(faults.insufficient_balance(), "top it up", id="balance"),
        pytest.param(faults.daily_limit(), "today's limit", id="daily"),
    ],
)
"""Parametrizes a test with ``fault`` (for /add_task) and ``words`` (in the message)."""
