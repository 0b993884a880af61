"""Broken storage under the Procfile's gunicorn: what /healthz answers, and a start-up that refuses a store it
cannot write (the unwritable-WAL case crash-looped workers with SIGBUS) with one line instead of a loop."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import requests

from tests.procs.test_processes import ROOT, BotProcess, procfile_command
from tests.store import filesystems

pytestmark = pytest.mark.slow


def test_healthz_says_the_database_file_is_gone_while_the_workers_stay_up(sandbox, tmp_path):
    path = tmp_path / "bot.sqlite3"
    bot = BotProcess(sandbox.url, f"sqlite:///{path}")
    try:
        bot.wait_healthy()
        assert requests.get(bot.url + "/healthz", timeout=5).json() == {"status": "ok", "store": "ok"}
        path.unlink()
        for _ in range(4):  # whichever worker answers
            answer = requests.get(bot.url + "/healthz", timeout=5)
            assert answer.status_code == 503
            assert answer.json() == {"status": "store unavailable", "store": "file: database file missing"}
        assert not path.exists()  # not silently re-created empty
        assert bot.proc.poll() is None
    finally:
        assert b"Traceback" not in bot.stop_and_read_errors()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(database_url: str, sandbox_url: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "BOT_"))}
    env.update({"FEISHU_APP_ID": "cli_sandbox_app", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t",
                "FEISHU_ENCRYPT_KEY": "k", "FEISHU_BASE_URL": sandbox_url, "DATABASE_URL": database_url,
                "HOST": "127.0.0.1", "PORT": str(free_port()), "WEB_CONCURRENCY": "2"})
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    return subprocess.run(procfile_command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout_s)


@pytest.fixture
def read_only_store(tmp_path) -> Path:
    """A directory holding a store, made read-only: a tmpfs remounted ro (root), else file modes."""
    if filesystems.can_mount():
        with filesystems.tmpfs(tmp_path / "fs") as mounted:
            from bot.store import open_store

            open_store(f"sqlite:///{mounted / 'bot.sqlite3'}").close()
            filesystems.remount_read_only(mounted)
            yield mounted
        return
    directory = tmp_path / "store"
    directory.mkdir()
    from bot.store import open_store

    open_store(f"sqlite:///{directory / 'bot.sqlite3'}").close()
    directory.chmod(0o555)
    yield directory
    directory.chmod(0o755)


def test_an_unwritable_store_stops_gunicorn_at_start_up_with_one_line(sandbox, read_only_store):
    started = time.monotonic()
    result = start_gunicorn(f"sqlite:///{read_only_store / 'bot.sqlite3'}", sandbox.url)
    assert result.returncode != 0
    assert time.monotonic() - started < 60  # it exits: no worker boots, so none can crash and respawn
    lines = [line for line in result.stderr.splitlines() if "approval-bot: store unavailable" in line]
    assert lines == [f"approval-bot: store unavailable: {read_only_store}: directory not writable "
                     "(WAL creates its -wal and -shm files there)"], result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert "Booting worker" not in result.stderr


