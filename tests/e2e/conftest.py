"""The demo as `approval-bot demo` runs it (sandbox + playground + real bot on 127.0.0.1), and a client for the
playground's JSON endpoints."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.app import create_app, shutdown
from bot.cli import attach_digest, demo_environment
from bot.config import load_config
from sandbox.demo import Demo, start_demo
from sandbox.testing import Sandbox
from tests.e2e.playground_client import PlaygroundClient

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


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
        # shutdown: maintenance stopped (else its rounds go on, failing, all session), the work in hand finished
        # while the sandbox is up (3-4 s of retries a test otherwise), the store closed
        running.stop(finish_bot=lambda: shutdown(running.bot_app))


@pytest.fixture
def client(demo: Demo) -> PlaygroundClient:
    return PlaygroundClient(demo)


@pytest.fixture(scope="module")  # playwright's sync API runs an event loop on this thread while it is open
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium; CI: .ci/chromium.sh)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()
