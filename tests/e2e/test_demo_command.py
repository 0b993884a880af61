"""`approval-bot demo` as a person runs it: prints the page and bot URLs, serves them, stops cleanly on Ctrl-C."""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
START_S = 90.0  # importing lark-oapi alone takes 4 s idle, tens of seconds on a busy 2-core machine
STOP_S = 10.0


def read_until(proc: subprocess.Popen[bytes], marker: str, timeout: float, seen: bytearray) -> str:
    """The output so far, once it holds `marker` (raw reads: select() knows nothing of Python's buffers)."""
    deadline = time.monotonic() + timeout
    while marker.encode() not in seen:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no {marker!r} in time; got {seen.decode(errors='replace')!r}"
        ready, _, _ = select.select([proc.stdout], [], [], remaining)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            assert chunk or marker.encode() in seen, f"exited early; got {seen.decode(errors='replace')!r}"
            seen.extend(chunk)
    return seen.decode()


@pytest.mark.slow
def test_demo_prints_its_urls_and_stops_on_ctrl_c(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "bot.cli", "demo", "--port", "0", "--sandbox-port", "0"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        seen = bytearray()
        banner = read_until(proc, "Press Ctrl-C", START_S, seen)
        page = re.search(r"playground: (http://127\.0\.0\.1:\d+/playground)", banner)
        bot = re.search(r"bot: +(http://127\.0\.0\.1:\d+)", banner)
        assert page and bot, banner
        assert requests.get(page.group(1), timeout=5).status_code == 200
        world = requests.get(page.group(1).replace("/playground", "/_playground/api/world"), timeout=5).json()
        assert world["attached"] is True
        assert requests.get(bot.group(1) + "/healthz", timeout=5).status_code == 200

        proc.send_signal(signal.SIGINT)
        assert "stopped." in read_until(proc, "stopped.", STOP_S, seen)
        assert proc.wait(timeout=STOP_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
