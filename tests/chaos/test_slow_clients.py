"""Slow clients against the Procfile's gunicorn on 127.0.0.1: slow-header and idle floods, slow bodies.

Before bot/serving.py, 200 header-trickling connections (one line a second) took every worker thread and
/healthz timed out for the whole attack. Sized for CI on 2 cores: 600 connections, about 10 s per test.
"""

from __future__ import annotations

import resource
import secrets
import socket
import threading
import time

import pytest

from bench import flood
from bench.events import raw_request
from bot import serving
from tests.integration.harness import ENCRYPT_KEY, TOKEN
from tests.procs.test_processes import BotProcess

pytestmark = pytest.mark.slow
SLOW_HEADERS, IDLE = 200, 400  # each more than the 2 × 32 threads the old worker had
ANSWER_WITHIN_S = 1.0
PROBE_S = 6.0


def ensure_fd_limit(needed: int) -> None:
    """The flood's sockets and the server's (a child inherits the soft limit): raise it, or skip if we cannot."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            pytest.skip(f"ulimit -n hard limit {hard} < {needed} descriptors this flood needs")
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    assert flood.raise_fd_limit(needed) >= needed


@pytest.fixture
def bot(sandbox, tmp_path):
    ensure_fd_limit(2 * (SLOW_HEADERS + IDLE) + 512)
    server = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        server.wait_healthy()
        yield server
    finally:
        server.stop()


def signed_group_messages(sandbox, bot, n: int) -> list[bytes]:
    """Signed, encrypted group messages that do not mention the bot: answered 200 without a Feishu call."""
    sender = sandbox.sender(bot.url, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
    built = []
    for i in range(n):
        headers, body = sender.build_message("employee", f"lunch? #{i}", chat="group",
                                             event_id=secrets.token_hex(16))
        built.append(raw_request(bot.port, headers, body))
    return built


def probe_during(bot, requests_by_kind: dict[str, list[bytes]]) -> dict[str, flood.Probes]:
    found = {kind: flood.Probes(kind, timeout_s=3.0) for kind in requests_by_kind}
    threads = [threading.Thread(target=flood.probe, args=(bot.port, requests, found[kind], 0.2, PROBE_S))
               for kind, requests in requests_by_kind.items()]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(PROBE_S + 10)
    return found


def test_healthz_and_signed_events_answer_within_1s_during_slow_header_and_idle_floods(sandbox, bot):
    n = int(PROBE_S / 0.2) + 1
    with flood.Flood(bot.port, slow_headers=SLOW_HEADERS, idle=IDLE) as attack:
        assert attack.wait_until_open(timeout_s=20), f"only {attack.open_now()} connections opened"
        found = probe_during(bot, {"healthz": [flood.health_request(bot.port)] * n,
                                   "signed event": signed_group_messages(sandbox, bot, n)})
        still_open = attack.open_now()
    for probes in found.values():
        assert len(probes.latencies_s) >= 10, probes.summary()
        assert probes.failures == 0, probes.summary()
        assert probes.max_s < ANSWER_WITHIN_S, probes.summary()
    assert still_open >= 0.9 * (SLOW_HEADERS + IDLE)  # the flood was on for the whole measurement
    assert attack.stats.peak_open == SLOW_HEADERS + IDLE


def read_answer(sock: socket.socket, timeout_s: float) -> bytes:
    sock.settimeout(timeout_s)
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_slow_headers_and_slow_bodies_get_a_fixed_408_on_time(bot):
    header_trickle = socket.create_connection(("127.0.0.1", bot.port))
    header_trickle.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: x\r\n")
    body_trickle = socket.create_connection(("127.0.0.1", bot.port))
    body_trickle.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    started = time.monotonic()
    for _ in range(3):  # a header line a second: the deadline counts from the connection, not the last line
        time.sleep(1)
        header_trickle.sendall(b"X-Slow: 1\r\n")
    body_answer = read_answer(body_trickle, 10)
    body_after = time.monotonic() - started
    header_answer = read_answer(header_trickle, 10)
    header_after = time.monotonic() - started
    for answer in (body_answer, header_answer):
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
        assert answer.endswith(b'{"code": 408, "msg": "request timeout"}')
    assert serving.BODY_DEADLINE_S - 0.1 <= body_after < serving.BODY_DEADLINE_S + 1.5
    assert serving.HEADER_TIMEOUT_S - 0.1 <= header_after < serving.HEADER_TIMEOUT_S + 1.5
    header_trickle.close()
    body_trickle.close()
    assert b"Traceback" not in bot.stop_and_read_errors()


def test_a_kept_alive_connection_serves_several_requests_and_pipelining(bot):
    with socket.create_connection(("127.0.0.1", bot.port), timeout=5) as sock:
        request = f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{bot.port}\r\n\r\n".encode()
        sock.sendall(request)
        first = b""
        deadline = time.monotonic() + 5
        while b'"status":"ok"' not in first and time.monotonic() < deadline:  # its head and body may come apart
            first += sock.recv(65536)
        sock.sendall(request * 2)  # two at once
        data = b""
        while data.count(b'"status":"ok"') < 2 and time.monotonic() < deadline:
            data += sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200") and data.count(b'"status":"ok"') == 2


def test_at_the_connection_bound_the_longest_waiting_connections_make_room(sandbox, tmp_path):
    """One worker holding at most 80 connections, 200 idle ones arriving: new clients are still served at once,
    the idle connections that waited longest are closed (gthread stops accepting instead, and /healthz waits)."""
    ensure_fd_limit(1024)
    bot = BotProcess(sandbox.url, f"sqlite:///{tmp_path / 'bot.sqlite3'}", workers=1,
                     extra_args=("--worker-connections", "80"))
    try:
        bot.wait_healthy()
        with flood.Flood(bot.port, slow_headers=0, idle=200) as attack:
            deadline = time.monotonic() + 10
            while attack.stats.closed_by_server < 100 and time.monotonic() < deadline:
                time.sleep(0.05)
            found = probe_during(bot, {"healthz": [flood.health_request(bot.port)] * 10})["healthz"]
        assert attack.stats.closed_by_server >= 100  # shed, long before their 5 s idle timeout
        assert found.failures == 0 and found.max_s < ANSWER_WITHIN_S, found.summary()
    finally:
        bot.stop()


def test_expect_100_continue_is_answered_once_before_the_body(bot):
    with socket.create_connection(("127.0.0.1", bot.port), timeout=5) as sock:
        sock.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                     b"Connection: close\r\n\r\n")
        assert sock.recv(4096) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"{}")
        answer = read_answer(sock, 5)
    assert answer.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in answer  # unsigned: refused, once
