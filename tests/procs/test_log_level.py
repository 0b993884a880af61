"""LOG_LEVEL sets the app's own logging, not only gunicorn's (each case in a fresh process: logging is global)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# What the app logs at three levels, through bot.logs.configure() as create_app() calls it.
SCRIPT = """
import logging
from bot import logs
logs.configure()
logging.getLogger("approval_bot.access").info("an access line")
logging.getLogger("bot.webhook").debug("a debug line")
logging.getLogger("bot.store").warning("a warning line")
logging.getLogger("Lark").debug("an SDK body")
"""


def app_log_lines(log_level: str | None) -> list[str]:
    env = {k: v for k, v in os.environ.items() if k != "LOG_LEVEL"}
    if log_level is not None:
        env["LOG_LEVEL"] = log_level
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=60, check=True)
    return [json.loads(line)["msg"] for line in result.stderr.splitlines()]


@pytest.mark.parametrize(("log_level", "expected"), [
    (None, ["an access line", "a warning line"]),
    ("info", ["an access line", "a warning line"]),
    ("DEBUG", ["an access line", "a debug line", "a warning line"]),
    ("warning", ["a warning line"]),
    ("error", []),
    ("nonsense", ["an access line", "a warning line"]),  # gunicorn also falls back to info
])
def test_log_level_sets_what_the_app_logs(log_level: str | None, expected: list[str]) -> None:
    assert app_log_lines(log_level) == expected


def test_debug_never_opens_the_sdk_logger() -> None:
    """The SDK logs bodies and card tokens at DEBUG: LOG_LEVEL=debug must not let them through."""
    assert "an SDK body" not in app_log_lines("debug")
