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
