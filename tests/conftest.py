"""Shared fixtures: the sandbox Feishu (sandbox.testing) and a clean environment for every test."""

import importlib.machinery
import os
import sys

import pytest

# The machines here set PYTHONDONTWRITEBYTECODE: without cached bytecode every run, and every xdist worker,
# compiles and assertion-rewrites the whole suite again (about 8 s of CPU each).
sys.dont_write_bytecode = False

from tests import properties  # noqa: E402


class _SdkFinder:
    """Finds lark-oapi's modules ahead of pytest's assertion-rewriting hook, which never rewrites them (they are
    neither tests nor plugins) but would look at each of its ~10,700 modules first: 2 s of CPU more for each
    worker's `import lark_oapi` (2.8 s outside pytest, 4.9 s inside)."""

    @staticmethod
    def find_spec(name: str, path: object = None, target: object = None) -> object:
        if name == "lark_oapi" or name.startswith("lark_oapi."):
            return importlib.machinery.PathFinder.find_spec(name, path, target)
        return None


sys.meta_path.insert(0, _SdkFinder)

pytest_plugins = ["sandbox.testing"]


def pytest_configure(config: pytest.Config) -> None:
    # before the test modules are imported: their @settings(max_examples=examples(n)) read the tier
    properties.choose_tier(quick=properties.leaves_out_slow(config.getoption("markexpr") or ""))


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:  # noqa: ARG001 - pytest-xdist's hook
    # `-n auto`: one worker more than the cores. Many tests wait on sockets, timers and the 3 s answer budget,
    # so a third worker on two cores fills that time (quick tier here: 125 s with 2, 100 s with 3, 103 s with 4;
    # since the SDK loads faster, 92 s with 3 and 95 s with 4).
    return (os.cpu_count() or 1) + 1


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Tests pass their config explicitly: nothing leaks in from the developer's shell or .env."""
    for name in list(os.environ):
        if name.startswith(("FEISHU_", "BOT_")) or name == "DATABASE_URL":
            monkeypatch.delenv(name, raising=False)


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The slow tests start processes, gunicorn and floods with timeouts of their own: under --dist loadgroup they
    # run on one worker, one after another, while the other workers take the rest.
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.xdist_group("slow"))
