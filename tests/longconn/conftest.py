"""The real lark-oapi long-connection client (through bot/longconn.py) against the sandbox's WebSocket.

Timings are shrunk through parameters: the sandbox's client config pings every second, discovery and handshake
time out after half a second, back-off starts at 50 ms; nothing waits out the production defaults.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import pytest

from bot.longconn import HealthServer, LongConnection, LongConnSettings

FAST = LongConnSettings(discovery_timeout_s=0.5, handshake_timeout_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.2,
                        drain_timeout_s=3.0)
TOAST = {"toast": {"type": "success", "content": "Approved", "i18n": {"zh_cn": "已通过", "en_us": "Approved"}}}


def message_event(event_id: str = "ev-msg-1", text: str = "/help") -> dict[str, Any]:
    return {"schema": "2.0",
            "header": {"event_id": event_id, "event_type": "im.message.receive_v1", "create_time": "1700000000000",
                       "token": "", "app_id": "cli_sandbox_app", "tenant_key": "tenant"},
            "event": {"sender": {"sender_id": {"open_id": "ou_manager"}, "sender_type": "user"},
                      "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "p2p",
                                  "message_type": "text", "content": json.dumps({"text": text})}}}


def card_click(event_id: str = "ev-card-1") -> dict[str, Any]:
    return {"schema": "2.0",
            "header": {"event_id": event_id, "event_type": "card.action.trigger", "create_time": "1700000000000",
                       "token": "", "app_id": "cli_sandbox_app", "tenant_key": "tenant"},
            "event": {"operator": {"open_id": "ou_manager"}, "token": "c-secret",
                      "action": {"tag": "button", "value": {"action": "approve", "approval_id": "7"}},
                      "host": "im_message", "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}}}


def approval_v1_event(uuid: str = "uuid-approval-1") -> dict[str, Any]:
    return {"uuid": uuid, "token": "", "ts": "1700000000.1", "type": "event_callback",
            "event": {"type": "approval_instance", "app_id": "cli_sandbox_app", "tenant_key": "tenant",
                      "approval_code": "81D31358-93AF-92D6-7425-01A5D67C4E71",
                      "instance_code": "81D31358-93AF-92D6-7425-01A5D67C4E72", "status": "APPROVED",
                      "operate_time": "1700000000000", "instance_operate_time": "1700000000000"}}


class RecordingHandle:
    """A stand-in for the bot's pipeline: records payloads, optionally waits, answers as the seam says."""

    def __init__(self, delay_s: float | tuple[float, ...] = 0.0,
                 answer: Callable[[dict[str, Any]], tuple[int, dict[str, Any]]] | None = None) -> None:
        # a float: every call waits that long; a tuple: the n-th call waits its n-th value, later calls none
        self._delays = iter(delay_s) if isinstance(delay_s, tuple) else itertools.repeat(delay_s)
        self._answer = answer
        self.payloads: list[dict[str, Any]] = []
        self.finished: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.payloads.append(payload)
            delay = next(self._delays, 0.0)
        if delay:
            time.sleep(delay)
        answer = self._answer(payload) if self._answer else self.default(payload)
        with self._lock:
            self.finished.append(payload)
        return answer

    @staticmethod
    def default(payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if payload.get("header", {}).get("event_type") == "card.action.trigger":
            return 200, TOAST
        return 200, {}


def wait_until(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def hub(sandbox: Any) -> Any:
    hub = sandbox.longconn
    hub.configure(PingInterval=1)
    hub.repush_delays = (0.2, 0.2)
    return hub


@pytest.fixture
def connect(sandbox: Any, hub: Any) -> Iterator[Callable[..., LongConnection]]:
    """`connect(handle, triage=None, **settings)`: a LongConnection to the sandbox, connected, stopped after the
    test."""
    started: list[LongConnection] = []

    def start(handle: Any, *, wait: bool = True, app_secret: str | None = None, triage: Any = None,
              **settings: Any) -> LongConnection:
        connection = LongConnection(sandbox.app_id, app_secret or sandbox.app_secret, sandbox.url, handle,
                                    settings=LongConnSettings(**{**asdict(FAST), **settings}), triage=triage).start()
        started.append(connection)
        if wait:
            assert connection.wait_for(lambda s: s.healthy, 5).healthy
            assert hub.wait_for_clients(1)
        return connection

    yield start
    for connection in started:
        connection.stop(timeout=10)
    assert wait_until(lambda: not hub.connected_clients(), 5)


@pytest.fixture
def health() -> Iterator[Callable[..., HealthServer]]:
    servers: list[HealthServer] = []

    def start(connection: LongConnection, **kwargs: Any) -> HealthServer:
        server = HealthServer(connection.status, host="127.0.0.1", port=0, **kwargs).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
