"""Serving: ServerThread on an ephemeral port, and the blocking `run_sandbox` entry point the CLI calls."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import requests
from flask import Flask

from sandbox.server import ServerThread

ROOT = Path(__file__).resolve().parents[2]


def test_server_thread_serves_any_wsgi_app_and_stops():
    app = Flask("tiny")
    app.add_url_rule("/ping", "ping", lambda: "pong")
    with ServerThread(app) as server:
        assert server.url == f"http://127.0.0.1:{server.port}" and server.port > 0
        assert requests.get(f"{server.url}/ping", timeout=5).text == "pong"
        url = server.url
    try:
        requests.get(f"{url}/ping", timeout=1)
        raise AssertionError("the server should be stopped")
    except requests.ConnectionError:
        pass


def test_run_sandbox_prints_its_url_and_serves():
    code = "from sandbox.server import run_sandbox; run_sandbox(0)"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("sandbox: http://127.0.0.1:")
        url = line.split(" ", 1)[1]
        samples = requests.get(f"{url}/_sandbox/samples", timeout=5).json()
        assert samples["bot_open_id"] == "ou_bot"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
