"""The real Flask app and the real lark-oapi client against the sandbox, on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.app import shutdown
from sandbox.testing import Sandbox
from tests.integration.harness import Bot, start_bot


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
