"""The demo as `approval-bot demo` runs it (sandbox + playground + real bot on 127.0.0.1), and a client for the
playground's JSON endpoints."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.app import create_app
from bot.cli import attach_digest, demo_environment
from bot.config import load_config
from sandbox.demo import Demo, start_demo
from sandbox.testing import Sandbox
from tests.e2e.playground_client import PlaygroundClient


@pytest.fixture
def demo(sandbox: Sandbox, tmp_path: Path) -> Iterator[Demo]:
    """`start_demo` exactly as `bot/cli.py` calls it, on free ports, over the session sandbox's (reset) state.

    Sharing that state keeps the tenant token lark-oapi cached for this process valid here too.
    """
    running = start_demo(lambda env: create_app(load_config(env)), lambda url: demo_environment(url, tmp_path),
                         state=sandbox.state)
    attach_digest(running)
    try:
        yield running
    finally:
        running.stop()
        running.bot_app.extensions["approval_bot"].maintenance.stop()  # else its rounds go on, failing, all session
        ctx = running.bot_app.extensions["approval_bot"].ctx
        ctx.pool.shutdown(wait=True, cancel_futures=True)
        ctx.store.close()


@pytest.fixture
def client(demo: Demo) -> PlaygroundClient:
    return PlaygroundClient(demo)
