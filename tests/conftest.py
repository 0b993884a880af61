"""Shared fixtures: the sandbox Feishu (sandbox.testing) and a clean environment for every test."""

import os
import sys

import pytest

# The machines here set PYTHONDONTWRITEBYTECODE: without cached bytecode every run, and every xdist worker,
# compiles and assertion-rewrites the whole suite again (about 8 s of CPU each).
sys.dont_write_bytecode = False

from tests import properties  # noqa: E402

pytest_plugins = ["sandbox.testing"]


def pytest_configure(config: pytest.Config) -> None:
    # before the test modules are imported: their @settings(max_examples=examples(n)) read the tier
    properties.choose_tier(quick=properties.leaves_out_slow(config.getoption("markexpr") or ""))


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Tests pass their config explicitly: nothing leaks in from the developer's shell or .env."""
    for name in list(os.environ):
        if name.startswith(("FEISHU_", "BOT_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)
