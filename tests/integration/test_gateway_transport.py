"""The gateway's HTTP layer (bot.http_pool.HttpPool, under lark-oapi's transport): kept-alive connections
shared by threads, timeouts and refused connections as FeishuError, and the environment's proxy honoured."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.feishu import FeishuGateway
from bot.http_pool import HttpPool
from core.errors import FeishuError

TOKEN = {"code": 0, "msg": "ok", "tenant_access_token": "t-test", "expire": 7200}
INSTANCE = {"code": 0, "msg": "ok", "data": {"instance_code": "ic-1", "status": "PENDING"}}


class _Feishu(ThreadingHTTPServer):
    """Answers the token and instance GET; counts TCP connections and remembers request lines."""

    daemon_threads = True

    def __init__(self, delay_s: float = 0.0, encoding: str = "", idle_close_s: float | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.delay_s = delay_s
        self.encoding = encoding  # "gzip" | "chunked" | "": how the answer's body is sent
        self.idle_close_s = idle_close_s  # the server closes a kept-alive connection idle this long
        self.connections = 0
        self.lines: list[str] = []

    def get_request(self):  # noqa: ANN201 - socketserver's hook
        self.connections += 1
        return super().get_request()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Feishu's gateway

    def setup(self) -> None:
        self.timeout = self.server.idle_close_s  # type: ignore[attr-defined]
        super().setup()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self._answer(INSTANCE)

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer(TOKEN)

    def _answer(self, body: dict) -> None:
        self.server.lines.append(self.requestline)  # type: ignore[attr-defined]
        time.sleep(self.server.delay_s)  # type: ignore[attr-defined]
        data = json.dumps(body).encode()
        encoding = self.server.encoding  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Tt-Logid", "log-transport-1")
        if encoding == "gzip":
            data = gzip.compress(data)
            self.send_header("Content-Encoding", "gzip")
        if encoding == "chunked":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            half = len(data) // 2
            for piece in (data[:half], data[half:], b""):
                self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            return
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
        HttpPool().request("POST", "http://127.0.0.1:9/x", files={"a": b""})


@pytest.mark.parametrize("encoding", ["gzip", "chunked"])
def test_compressed_and_chunked_answers_are_read_whole(encoding):
    for served in _serve(_Feishu(encoding=encoding)):
        gateway = FeishuGateway("cli_a", "secret", _url(served), timeout_s=5.0)
        assert gateway.get_instance("ic-1")["instance_code"] == "ic-1"
        assert gateway.get_instance("ic-1")["instance_code"] == "ic-1"
        assert served.connections == 1  # and the connection stays usable after it


def test_a_connection_the_server_closed_while_idle_is_replaced_before_use():
    for served in _serve(_Feishu(idle_close_s=0.2)):
        pool = HttpPool()  # no gateway: nothing retries a failed call here
        url = f"{_url(served)}/open-apis/approval/v4/instances/ic-1"
        assert pool.request("GET", url, timeout=5.0).status_code == 200
        time.sleep(0.6)  # the server has closed the kept-alive connection meanwhile
        assert pool.request("POST", url, data=b"{}", timeout=5.0).status_code == 200  # a new connection, no error
        assert served.connections == 2
        assert served.lines == ["GET /open-apis/approval/v4/instances/ic-1 HTTP/1.1",
                                "POST /open-apis/approval/v4/instances/ic-1 HTTP/1.1"]  # each sent once


def test_the_answers_log_id_reaches_the_caller(feishu):
    pool = HttpPool()
    answer = pool.request("GET", f"{_url(feishu)}/open-apis/approval/v4/instances/ic-1", timeout=5.0)
    assert answer.status_code == 200 and json.loads(answer.content)["data"]["instance_code"] == "ic-1"
    assert dict(answer.headers)["X-Tt-Logid"] == "log-transport-1"  # lark-oapi reads it from dict(headers)
    assert pool.last_response() is answer


def test_a_server_that_hangs_up_without_answering_is_a_network_error():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.settimeout(3.0)

        def hang_up() -> None:  # every connection: read the request, close without a word (retries included)
            for _ in range(20):
                try:
                    conn, _ = listener.accept()
                except OSError:
                    return
                conn.recv(65536)
                conn.close()

        thread = threading.Thread(target=hang_up, daemon=True)
        thread.start()
        gateway = FeishuGateway("cli_a", "secret", f"http://127.0.0.1:{listener.getsockname()[1]}", timeout_s=2.0)
        with pytest.raises(FeishuError) as caught:
            gateway.get_instance("ic-1", deadline=time.monotonic() + 0.5)
        thread.join(5)
    assert caught.value.kind == "network"
