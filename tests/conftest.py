"""Shared fixtures: the sandbox Feishu (sandbox.testing) and a clean environment for every test."""

import os

import pytest

pytest_plugins = ["sandbox.testing"]


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Tests pass their config explicitly: nothing leaks in from the developer's shell or .env."""
    for name in list(os.environ):
        if name.startswith(("FEISHU_", "BOT_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
