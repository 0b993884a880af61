"""The gateway's HTTP layer (bot.feishu._PooledRequests, under lark-oapi's transport): kept-alive connections
shared by threads, timeouts and refused connections as FeishuError, and the environment's proxy honoured."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.feishu import FeishuGateway, _PooledRequests
from core.errors import FeishuError

TOKEN = {"code": 0, "msg": "ok", "tenant_access_token": "t-test", "expire": 7200}
INSTANCE = {"code": 0, "msg": "ok", "data": {"instance_code": "ic-1", "status": "PENDING"}}


class _Feishu(ThreadingHTTPServer):
    """Answers the token and instance GET; counts TCP connections and remembers request lines."""

    daemon_threads = True

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        self.connections = 0
        self.lines: list[str] = []

    def get_request(self):  # noqa: ANN201 - socketserver's hook
        self.connections += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Feishu's gateway

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(INSTANCE)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(TOKEN)

    def _answer(self, body: dict) -> None:
        self.server.lines.append(self.requestline)  # type: ignore[attr-defined]
        time.sleep(self.server.delay_s)  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def feishu() -> Iterator[_Feishu]:
    yield from _serve(_Feishu())


@pytest.fixture
def slow_feishu() -> Iterator[_Feishu]:
    yield from _serve(_Feishu(delay_s=1.0))


def _serve(server: _Feishu) -> Iterator[_Feishu]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def _url(server: _Feishu) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_calls_from_many_threads_share_a_few_kept_alive_connections(feishu):
    gateway = FeishuGateway("cli_a", "secret", _url(feishu), timeout_s=5.0)
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: gateway.get_instance("ic-1"), range(40)))
    assert all(a["instance_code"] == "ic-1" for a in answers)
    assert len([line for line in feishu.lines if line.startswith("GET")]) == 40
    assert feishu.connections <= 5  # 4 threads at most at once, plus the token's; not one per call


def test_threads_that_come_and_go_reuse_the_same_connection(feishu):
    gateway = FeishuGateway("cli_a", "secret", _url(feishu), timeout_s=5.0)
    for _ in range(20):  # one after another, each from a thread of its own
        thread = threading.Thread(target=gateway.get_instance, args=("ic-1",))
        thread.start()
        thread.join(10)
    assert len([line for line in feishu.lines if line.startswith("GET")]) == 20
    assert feishu.connections == 1


def test_a_slow_answer_is_a_timeout_error_with_nothing_assumed(slow_feishu):
    gateway = FeishuGateway("cli_a", "secret", _url(slow_feishu), timeout_s=0.3)
    with pytest.raises(FeishuError) as caught:
        gateway.get_instance("ic-1", deadline=time.monotonic() + 0.5)
    assert caught.value.kind == "timeout"


def _closed_port() -> int:
    with socket.socket() as closed:  # a port nobody listens on once this is closed
        closed.bind(("127.0.0.1", 0))
        return closed.getsockname()[1]


def test_a_refused_connection_is_a_network_error():
    gateway = FeishuGateway("cli_a", "secret", f"http://127.0.0.1:{_closed_port()}", timeout_s=0.5)
    with pytest.raises(FeishuError) as caught:
        gateway.get_instance("ic-1", deadline=time.monotonic() + 0.5)
    assert caught.value.kind == "network"


def test_the_environments_proxy_carries_the_calls(feishu, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", _url(feishu))
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    target = f"http://localhost:{_closed_port()}"  # nobody there: only the proxy can answer
    gateway = FeishuGateway("cli_a", "secret", target, timeout_s=5.0)
    assert gateway.get_instance("ic-1")["instance_code"] == "ic-1"
    # a proxy is sent the absolute URL
    assert any(line.startswith(f"GET {target}/open-apis/approval/v4/instances/ic-1") for line in feishu.lines)


def test_an_argument_the_stand_in_does_not_send_fails_loudly():
    with pytest.raises(TypeError, match="files"):
        _PooledRequests().request("POST", "http://127.0.0.1:9/x", files={"a": b""})
