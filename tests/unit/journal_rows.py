"""Journal rows for the tests: a made-up task on a gateway, any field overridable."""

from __future__ import annotations

import uuid

from gen404.client.journal import JournalEntry

BASE = "https://gateway-eu.404.xyz:4443"


def entry(**overrides: object) -> JournalEntry:
    """A journal entry of a new task id on ``BASE``; ``overrides`` set any other field."""
    values: dict = {"task_id": str(uuid.uuid4()), "base_url": BASE, "label": "a red chair"}
    values.update(overrides)
    return JournalEntry(**values)
