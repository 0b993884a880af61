"""The worker's start-up checks: what it refuses to serve, and how it fits its connections in the fd limit."""

from __future__ import annotations

import logging
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from bot import serving

ROOT = Path(__file__).resolve().parents[2]


def test_the_connection_bound_fits_the_open_file_limit(monkeypatch) -> None:
    limits = {"soft": 1024, "hard": 1024}
    monkeypatch.setattr(resource, "getrlimit", lambda _which: (limits["soft"], limits["hard"]))

    def setrlimit(_which, pair) -> None:  # noqa: ANN001
        limits["soft"] = pair[0]

    monkeypatch.setattr(resource, "setrlimit", setrlimit)
    log = logging.getLogger("test.serving")
    bound = serving.connection_bound(4096, 32, log)
    assert bound == 1024 - 32 - serving.FD_RESERVE  # the hard limit allows no more: fewer connections
    limits.update(soft=1024, hard=100_000)
    assert serving.connection_bound(4096, 32, log) == 4096  # raised to fit
    assert limits["soft"] == 4096 + 32 + serving.FD_RESERVE


@pytest.mark.parametrize("flag", [["--http2-cleartext", "upgrade"],
                                  ["--proxy-protocol", "v1"]])
def test_what_the_worker_cannot_frame_stops_gunicorn_at_start(flag: list[str]) -> None:
    command = [sys.executable, "-m", "gunicorn", "-k", "bot.serving.BufferingWorker", "--no-control-socket",
               "-b", "127.0.0.1:0", *flag, "tests.procs.test_serving_worker:app"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "serves plain HTTP/1.1" in result.stderr


def app(environ, start_response):  # noqa: ANN001, ANN201 - a WSGI app the refused servers never reach
    start_response("200 OK", [])
    return [b""]
