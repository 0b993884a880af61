"""What a process holds beyond what it uses (docs/serving.md, "Memory and start-up"): lark-oapi loads without
setuptools' pkg_resources, and a SQLite store without SQLAlchemy's PostgreSQL dialect. Each check runs in a fresh
interpreter, so that nothing pytest or another test imported counts."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _run(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(importlib.util.find_spec("pkg_resources") is None, reason="setuptools is not installed")
def test_pkg_resources_is_refused_while_the_guard_holds_and_imports_again_after():
    code = ("from bot.sdk import without_pkg_resources\n"
            "with without_pkg_resources():\n"
            "    try:\n        import pkg_resources\n        print('imported')\n"
            "    except ImportError:\n        print('refused')\n"
            "import pkg_resources\nprint(pkg_resources.__name__)")
    assert _run(code).splitlines() == ["refused", "pkg_resources"]


def test_a_process_that_loaded_pkg_resources_keeps_it():
    code = ("import sys, types\nsys.modules['pkg_resources'] = mine = types.ModuleType('pkg_resources')\n"
            "from bot.sdk import without_pkg_resources\n"
            "with without_pkg_resources():\n    import pkg_resources\n"
            "print(pkg_resources is mine, sys.modules['pkg_resources'] is mine)")
    assert _run(code) == "True True"


@pytest.mark.slow
def test_the_gateway_loads_the_sdk_without_pkg_resources():
    code = ("import sys, bot.feishu, bot.longconn\n"
            "from lark_oapi.ws.pb import pbbp2_pb2\n"  # the long connection's frames: the vendored protobuf
            "import lark_oapi.ws.pb.google as g\n"
            "print('pkg_resources' in sys.modules, len(g.__path__), pbbp2_pb2.Frame.__name__)")
    assert _run(code) == "False 1 Frame"


def test_a_sqlite_store_leaves_the_postgresql_dialect_out(tmp_path):
    code = ("import sys\nfrom bot.store import open_store\n"
            f"store = open_store('sqlite:///{tmp_path / 'store.sqlite3'}')\n"
            "print(store.health().http_status, sorted(m for m in sys.modules if 'postgresql' in m))")
    assert _run(code) == "200 []"


@pytest.mark.slow
def test_the_sdk_loads_with_the_collector_paused_then_frozen():
    code = ("import gc, sys\nfrom bot.app import load_gateway\n"
            "frozen, full = gc.get_freeze_count(), gc.get_stats()[2]['collections']\n"
            "gateway = load_gateway()\n"
            "print(gateway.__name__, gc.isenabled(), gc.get_stats()[2]['collections'] - full,"
            " gc.get_freeze_count() - frozen > 100_000, load_gateway() is gateway)")
    assert _run(code) == "FeishuGateway True 0 True True"


@pytest.mark.slow
def test_the_long_connection_loads_the_sdk_the_same_way():
    # `approval-bot connect` imports the SDK through bot.longconn, not through bot.app's load_gateway
    code = ("import gc\nfull = gc.get_stats()[2]['collections']\nimport bot.longconn\n"
            "print(gc.isenabled(), gc.get_stats()[2]['collections'] - full, gc.get_freeze_count() > 100_000)")
    assert _run(code) == "True 0 True"


@pytest.mark.slow
def test_loading_the_sdk_leaves_a_paused_collector_paused():
    code = ("import gc\nfrom bot.app import load_gateway\ngc.disable()\nload_gateway()\nprint(gc.isenabled())")
    assert _run(code) == "False"
