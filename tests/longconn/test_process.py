"""`run_long_connection` as a process: serves health, and exits cleanly on SIGTERM after in-flight work."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.longconn.conftest import message_event, wait_until

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import sys, time
from bot.longconn import LongConnSettings, run_long_connection

def handle(payload):
    time.sleep(1.0)  # still working when SIGTERM arrives
    print("handled", payload["header"]["event_id"], flush=True)
    return 200, {}

settings = LongConnSettings(discovery_timeout_s=1, handshake_timeout_s=1, backoff_initial_s=0.05, drain_timeout_s=3)
code = run_long_connection(sys.argv[1], sys.argv[2], sys.argv[3], handle, health_port=int(sys.argv[4]),
                           health_host="127.0.0.1", settings=settings)
print("exit", code, flush=True)
sys.exit(code)
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def healthy(port: int) -> bool:
    try:
        return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except requests.ConnectionError:
        return False


@pytest.mark.slow
def test_sigterm_lets_the_frame_in_flight_be_answered_then_exits_0(sandbox, hub):
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", SCRIPT, sandbox.app_id, sandbox.app_secret, sandbox.url,
                             str(port)], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: healthy(port), 90), proc.stderr.read() if proc.poll() is not None else ""
        assert hub.wait_for_clients(1)
        result: dict = {}
        pusher = threading.Thread(target=lambda: result.update(d=hub.push_event(message_event("ev-sigterm"))))
        pusher.start()
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        pusher.join(5)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "handled ev-sigterm" in out and out.strip().endswith("exit 0")
    assert result["d"].accepted
    assert wait_until(lambda: hub.connected_clients() == [], 2)
    assert not healthy(port)


@pytest.mark.slow
def test_approval_bot_connect_with_only_an_app_id_and_secret(sandbox, hub, tmp_path):
    """`approval-bot connect` as an operator runs it: answers a command over the WebSocket, survives a dropped
    connection (health says so), and exits 0 on SIGTERM."""
    from sandbox.longconn import long_connection_sender

    port = free_port()
    env = {"PATH": "/usr/bin:/bin", "FEISHU_APP_ID": sandbox.app_id, "FEISHU_APP_SECRET": sandbox.app_secret,
           "FEISHU_BASE_URL": sandbox.url, "BOT_HEALTH_PORT": str(port), "BOT_LOCALE": "en_us",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}"}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "approval-bot"), "connect"], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: healthy(port), 90), proc.stderr.read() if proc.poll() is not None else ""
        assert hub.wait_for_clients(1)
        sender = long_connection_sender(hub, sandbox.state, timeout=5)
        sent = sender.message("manager", "/help")
        assert sent.ok
        assert wait_until(lambda: any(m.get("parent_id") == sent.message_id for m in sandbox.messages()), 10)
        hub.drop_connections()
        assert wait_until(lambda: not healthy(port), 5)
        assert wait_until(lambda: healthy(port), 15) and hub.wait_for_clients(1)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "Traceback" not in err
