"""The real Flask app and the real lark-oapi client against the sandbox, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from bot.app import shutdown
from sandbox import data
from sandbox.state import EventTarget
from sandbox.testing import Sandbox
from tests.integration.harness import ENCRYPT_KEY, TOKEN, Bot, start_bot, wait_until

PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]  # a two-step definition that is not an attendance type


@pytest.fixture
def bot(sandbox: Sandbox, tmp_path) -> Iterator[Bot]:
    running = start_bot(sandbox, tmp_path)
    try:
        yield running
    finally:
        sandbox.release_holds()
        running.server.stop()
        shutdown(running.app)
    # DESIGN.md: an id of one world is never sent to the other world's API
    sent = [c.json.get("approval_id") for c in sandbox.process_calls() if isinstance(c.json, dict)]
    assert not set(sent) & set(sandbox.state.instances), "the bot sent approval_infos/process an instance code"


@pytest.fixture
def subscribed_bot(sandbox: Sandbox, tmp_path) -> Iterator[Bot]:
    """A bot subscribed to the purchase definition (once, at its first request), the sandbox pushing it events."""
    running = start_bot(sandbox, tmp_path, BOT_APPROVAL_CODES=PURCHASE)
    sandbox.state.event_target = EventTarget(running.server.url, ENCRYPT_KEY, TOKEN)
    requests.get(running.server.url + "/healthz", timeout=5)  # the first request starts the upkeep
    try:
        assert wait_until(lambda: len(sandbox.calls_for("approval_subscribe")) == 1, 10)
        yield running
    finally:
        sandbox.release_holds()
        running.server.stop()
        shutdown(running.app)
