"""Real processes: the Procfile's gunicorn with two workers, and two bot instances sharing one store.

Duplicate deliveries and concurrent clicks spread across workers and instances still act exactly once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import cards
from sandbox.data import INSTANCES
from tests.integration.harness import ENCRYPT_KEY, TOKEN

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def procfile_command(*extra_args: str) -> list[str]:
    """The Procfile's web command; `extra_args` go before the app (gunicorn: the command line wins)."""
    web = next(line for line in (ROOT / "Procfile").read_text().splitlines() if line.startswith("web:"))
    line = web.split(":", 1)[1].strip()
    import shlex

    words = shlex.split(line)
    assert words[0] == "gunicorn"
    return [sys.executable, "-m", "gunicorn", *words[1:-1], *extra_args, words[-1]]


class BotProcess:
    def __init__(self, sandbox_url: str, database_url: str, workers: int = 2, extra_args: tuple[str, ...] = (),
                 environ: dict[str, str] | None = None) -> None:
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "BOT_"))},
            "FEISHU_APP_ID": "cli_sandbox_app",
            "FEISHU_APP_SECRET": "sandbox-app-secret",
            "FEISHU_VERIFICATION_TOKEN": TOKEN,
            "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
            "FEISHU_BASE_URL": sandbox_url,
            "BOT_ADMINS": "ou_admin",
            "DATABASE_URL": database_url,
            "BOT_LOCALE": "en_us",
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": str(workers),
            **(environ or {}),
        }
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        # A file, not a pipe: nobody reads a pipe while the test runs, and a full one would block the server.
        self._errors = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(procfile_command(*extra_args), cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=self._errors, start_new_session=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited: {self.errors().decode()[-2000:]}")
            try:
                if requests.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise AssertionError("bot did not become healthy")

    def errors(self) -> bytes:
        """Everything gunicorn and the app wrote to stderr so far."""
        self._errors.seek(0)
        return self._errors.read()

    def stop_and_read_errors(self) -> bytes:
        self.stop()
        return self.errors()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_store(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.sqlite3'}"
        return
    if not PG_URL:
        pytest.skip("BOT_TEST_POSTGRES_URL is not set (.ci/run starts PostgreSQL and sets it)")
    import psycopg

    with psycopg.connect(PG_URL, autocommit=True) as conn:  # a clean schema for this test
        for (table,) in conn.execute("select tablename from pg_tables where schemaname = current_schema()").fetchall():
            conn.execute(f'drop table if exists "{table}" cascade')
    yield PG_URL


def test_procfile_runs_and_same_event_on_two_workers_acts_once(sandbox, tmp_path):
    bot = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        bot.wait_healthy()
        sender = sandbox.sender(bot.url, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
        payload = sender.message_payload("manager", f"/approve {INSTANCES['remedy_pending']}")
        message = payload["event"]["message"]
        sandbox.state.record_user_message("ou_manager", message["chat_id"], "", message_id=message["message_id"],
                                          content=message["content"])
        statuses = deliver_concurrently(sender, payload, 8)
        assert set(statuses) <= {200, 503}
        wait_for(lambda: sandbox.state.snapshot(INSTANCES["remedy_pending"])["instance"]["status"] == "APPROVED")
        time.sleep(0.5)
        assert len(sandbox.action_calls()) == 1
        metrics = requests.get(bot.url + "/metrics", timeout=5).text
        assert "bot_events_total" in metrics
    finally:
        bot.stop()


def test_two_instances_sharing_one_store_act_once(sandbox, shared_store):
    first, second = BotProcess(sandbox.url, shared_store), BotProcess(sandbox.url, shared_store)
    try:
        first.wait_healthy()
        second.wait_healthy()
        senders = [sandbox.sender(b.url, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN) for b in (first, second)]
        # one message event delivered to both instances at once, three times each
        payload = senders[0].message_payload("manager", "/help")
        message = payload["event"]["message"]
        sandbox.state.record_user_message("ou_manager", message["chat_id"], "", message_id=message["message_id"],
                                          content=message["content"])
        statuses = deliver_concurrently(senders[0], payload, 3, other=senders[1])
        assert set(statuses) <= {200, 503}
        wait_for(lambda: any(m.get("parent_id") == message["message_id"] for m in sandbox.messages()))
        time.sleep(0.5)
        assert len([m for m in sandbox.messages() if m.get("parent_id") == message["message_id"]]) == 1
        # concurrent clicks on one approval, spread over both instances
        approval = INSTANCES["remedy_pending_3"]
        value = {"action": "approve", "approval_id": approval, "approval_type": "remedy", "v": cards.CARD_VERSION}
        sent = sandbox.state.add_message(chat_id="oc_p2p_manager", msg_type="interactive", body="{}", content={},
                                         from_bot=True)
        barrier = threading.Barrier(8)

        def click(sender):
            barrier.wait()
            sender.click("manager", value, message_id=sent["message_id"], chat_id="oc_p2p_manager")

        threads = [threading.Thread(target=click, args=(senders[i % 2],)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert len(sandbox.action_calls()) == 1
        assert sandbox.state.snapshot(approval)["instance"]["status"] == "APPROVED"
    finally:
        first.stop()
        second.stop()


def deliver_concurrently(sender, payload, copies, other=None) -> list[int]:
    senders = [sender] if other is None else [sender, other]
    barrier = threading.Barrier(copies * len(senders))
    statuses: list[int] = []

    def deliver(s):
        headers, body = s.seal(payload)
        barrier.wait()
        statuses.append(s.post(headers, body).status)

    threads = [threading.Thread(target=deliver, args=(s,)) for s in senders for _ in range(copies)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return statuses


def wait_for(predicate, timeout=15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_healthz_stays_fast_with_slow_clients_on_gunicorn(sandbox, tmp_path):
    """More slow-body clients than workers: gthread keeps answering the health check."""
    bot = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    sockets = []
    try:
        bot.wait_healthy()
        for _ in range(12):
            s = socket.create_connection(("127.0.0.1", bot.port), timeout=5)
            s.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"a\":")
            sockets.append(s)
        timings = []
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(bot.url + "/healthz", timeout=5).status_code == 200
            timings.append(time.monotonic() - started)
        assert max(timings) < 1.0, timings
    finally:
        for s in sockets:
            s.close()
        bot.stop()


def test_sigterm_lets_an_in_flight_action_finish(sandbox, tmp_path):
    bot = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}", workers=1)
    try:
        bot.wait_healthy()
        sender = sandbox.sender(bot.url, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
        approval = INSTANCES["remedy_pending"]
        sandbox.inject("task_approve", hold=True, times=1)
        sent = sandbox.state.add_message(chat_id="oc_p2p_manager", msg_type="interactive", body="{}", content={},
                                         from_bot=True)
        value = {"action": "approve", "approval_id": approval, "approval_type": "remedy", "v": cards.CARD_VERSION}
        clicker = threading.Thread(target=lambda: sender.click("manager", value, message_id=sent["message_id"],
                                                               chat_id="oc_p2p_manager"))
        clicker.start()
        assert sandbox.state.wait_held(1, timeout=10)
        os.killpg(bot.proc.pid, signal.SIGTERM)
        time.sleep(0.5)
        sandbox.release_holds()
        clicker.join(20)
        bot.proc.wait(30)
        assert sandbox.state.snapshot(approval)["instance"]["status"] == "APPROVED"
        assert len(sandbox.action_calls()) == 1
        from bot.store import open_store

        store = open_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
        assert [r.outcome for r in store.history(approval)] == ["done"]
        store.close()
    finally:
        sandbox.release_holds()
        bot.stop()


def test_two_workers_subscribe_each_approval_code_once(sandbox, tmp_path):
    codes = "A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A03,A7C3E1F0-2B4D-4E6F-8A9B-0C1D2E3F4A04"
    bot = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}", environ={"BOT_APPROVAL_CODES": codes})
    try:
        bot.wait_healthy()
        for _ in range(20):  # reach both workers, each of which starts its upkeep on its first request
            requests.get(bot.url + "/healthz", timeout=5)
        wait_for(lambda: len(sandbox.calls_for("approval_subscribe")) >= 2)
        time.sleep(2.5)  # both workers' first rounds are over
        assert sorted(c.path.rsplit("/", 2)[-2] for c in sandbox.calls_for("approval_subscribe")) == sorted(
            codes.split(","))
    finally:
        bot.stop()
