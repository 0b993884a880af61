"""A gunicorn worker that reads each request in full before a thread sees it (`worker_class` in
bot/gunicorn_conf.py; why: docs/serving.md).

gunicorn's gthread worker hands a fresh connection to a pool thread, which then blocks reading the request
headers: a client trickling one header line a second, or a thousand that connect and say nothing, hold every
thread. Here the worker's main loop reads all sockets without blocking (selectors), buffers the head of each
request within HEADER_TIMEOUT_S and its body within BODY_DEADLINE_S (at most MAX_BODY_BYTES), and only then
submits the complete request to the pool, where gunicorn parses it from memory. A thread never waits for a
client's bytes; idle keep-alive connections stay parked in the selector. Slow or oversized requests get a
fixed JSON answer (408, 413, 431, 400) from the main loop, never a traceback. When the worker holds
`worker_connections`, the connection that has waited longest is closed to make room.
"""

from __future__ import annotations

import errno
import heapq
import itertools
import json
import re
import resource
import selectors
import socket
import time
from collections import OrderedDict
from dataclasses import dataclass
from functools import partial
from typing import Any

from gunicorn import http, util
from gunicorn.workers.gthread import TConn, ThreadWorker

HEADER_TIMEOUT_S = 5.0  # from accept (or a kept-alive connection's first byte) to the end of the headers
BODY_DEADLINE_S = 2.0  # the budget bot/webhook.py's read_body gives a body: Feishu sends a few KB at once
MAX_BODY_BYTES = 1024 * 1024  # bot/app.py's MAX_CONTENT_LENGTH
MAX_HEAD_BYTES = 64 * 1024  # request line and headers; Feishu's are about 1 KB
MAX_CHUNK_LINE = 1024  # a chunk-size line with its extensions
MAX_TRAILER_BYTES = 8 * 1024
WRITE_TIMEOUT_S = 10.0  # a thread writing an answer to a client that does not read it
LINGER_S = 1.0  # after a refusal: drop what the client still sends, so it reads the answer instead of a reset
RECV_BYTES = 64 * 1024
ACCEPT_BATCH = 64  # connections accepted per wake-up of the listener
FD_RESERVE = 128  # descriptors kept for the store, Feishu sessions, log files and the pipes

_HEX = re.compile(rb"[0-9A-Fa-f]{1,8}")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 5.1: a field name
_PHRASES = {400: "Bad Request", 408: "Request Timeout", 413: "Request Entity Too Large",
            431: "Request Header Fields Too Large"}


class Refusal(Exception):
    """A request the main loop answers itself and closes: `status` with a fixed body, `reason` for metrics."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def fixed_answer(status: int) -> bytes:
    """The whole HTTP answer for a refusal: the same JSON shape as the app's errors, and a close."""
    phrase = _PHRASES[status]
    body = json.dumps({"code": status, "msg": phrase.lower()}).encode()
    head = (f"HTTP/1.1 {status} {phrase}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


# -- framing: where one request ends in a growing buffer --------------------------------------------------------


@dataclass
class Framing:
    """What is known so far about the request at the start of a buffer."""

    head_end: int = -1  # offset just past the blank line; -1 while the head is incomplete
    body_length: int = 0  # Content-Length (0 without one); unused when chunked
    chunked: bool = False
    chunk_at: int = 0  # chunked: where the next chunk-size line starts
    chunked_bytes: int = 0
    expects_continue: bool = False


def frame(buf: bytearray, state: Framing) -> int | None:
    """The length of the first complete request in `buf`, or None while more bytes are needed.

    Raises Refusal for what gunicorn would refuse anyway, or what must not reach a thread: a head over
    MAX_HEAD_BYTES, a body over MAX_BODY_BYTES, or framing that does not say where the body ends."""
    if state.head_end < 0:
        while buf.startswith(b"\r\n"):  # RFC 9112 2.2: empty lines before the request line are ignored
            del buf[:2]
        end = buf.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES)
        if end < 0:
            if len(buf) >= MAX_HEAD_BYTES:
                raise Refusal(431, "headers_too_large")
            return None
        _read_head(bytes(buf[:end]), state)
        state.head_end = state.chunk_at = end + 4
    if state.chunked:
        return _chunked_end(buf, state)
    end = state.head_end + state.body_length
    return end if len(buf) >= end else None


def _read_head(head: bytes, state: Framing) -> None:
    request_line, *lines = head.split(b"\r\n")
    parts = request_line.split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise Refusal(400, "bad_request_line")
    lengths: set[bytes] = set()
    codings: list[bytes] = []
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            raise Refusal(400, "bad_header")  # no colon, a space in or before the name, obsolete line folding
        name, value = name.lower(), value.strip()
        if name == b"content-length":
            lengths.update(v.strip() for v in value.split(b","))
        elif name == b"transfer-encoding":
            codings.extend(v.strip().lower() for v in value.split(b","))
        elif name == b"expect" and value.lower() == b"100-continue":
            state.expects_continue = parts[2] == b"HTTP/1.1"
    _read_framing(lengths, codings, state)


def _read_framing(lengths: set[bytes], codings: list[bytes], state: Framing) -> None:
    if codings:
        if lengths or codings != [b"chunked"]:  # both, or a coding we cannot frame: a smuggling attempt
            raise Refusal(400, "bad_framing")
        state.chunked = True
        return
    if not lengths:
        return
    if len(lengths) != 1:
        raise Refusal(400, "bad_framing")
    (length,) = lengths
    if not length.isdigit() or len(length) > 12:
        raise Refusal(400, "bad_framing")
    if int(length) > MAX_BODY_BYTES:
        raise Refusal(413, "too_large")
    state.body_length = int(length)


def _chunked_end(buf: bytearray, state: Framing) -> int | None:
    """Walk the chunks from where the last call stopped; the end of the trailers once the last chunk is in."""
    while True:
        at = state.chunk_at
        eol = buf.find(b"\r\n", at, at + MAX_CHUNK_LINE)
        if eol < 0:
            if len(buf) - at >= MAX_CHUNK_LINE:
                raise Refusal(400, "bad_framing")
            return None
        size_field = bytes(buf[at:eol]).split(b";", 1)[0]
        if not _HEX.fullmatch(size_field):
            raise Refusal(400, "bad_framing")
        size = int(size_field, 16)
        if size == 0:
            return _trailers_end(buf, eol + 2)
        if state.chunked_bytes + size > MAX_BODY_BYTES:
            raise Refusal(413, "too_large")
        data_end = eol + 2 + size
        if len(buf) < data_end + 2:
            return None
        if buf[data_end:data_end + 2] != b"\r\n":
            raise Refusal(400, "bad_framing")
        state.chunked_bytes += size
        state.chunk_at = data_end + 2


def _trailers_end(buf: bytearray, start: int) -> int | None:
    if buf[start:start + 2] == b"\r\n":
        return start + 2
    end = buf.find(b"\r\n\r\n", start, start + MAX_TRAILER_BYTES)
    if end >= 0:
        return end + 4
    if len(buf) - start >= MAX_TRAILER_BYTES:
        raise Refusal(400, "bad_framing")
    return None


# -- the worker -------------------------------------------------------------------------------------------------


class BufferedConn(TConn):
    """A client connection with the bytes of its next request. Parked in the selector, or in a thread."""

    def __init__(self, cfg: Any, sock: socket.socket, client: Any, server: Any) -> None:
        super().__init__(cfg, sock, client, server)  # leaves the socket non-blocking
        # The parser is made per request from buffered bytes (dispatch): TConn.init must never read the socket.
        self.initialized = True
        self.data_ready = True
        self.buf = bytearray()
        self.framing = Framing()
        self.deadline = 0.0
        self.got_bytes = False  # any byte of the next request yet (an idle connection closes silently)
        self.continue_sent = False
        self.lingering = False
        self.served = 0  # requests answered on this connection


class BufferingWorker(ThreadWorker):
    """gthread's pool and keep-alive, with every request read by the main loop first (module docstring)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.waiting: OrderedDict[BufferedConn, None] = OrderedDict()  # parked, longest-waiting first
        self.silent: OrderedDict[BufferedConn, None] = OrderedDict()  # parked with nothing to serve: shed first
        self.deadlines: list[tuple[float, int, BufferedConn]] = []  # a heap; stale entries are skipped
        self._order = itertools.count()

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        # Its framing reads plain HTTP/1.x only (the PROXY header, TLS and HTTP/2 would each need their own).
        if cfg.is_ssl or cfg.http2_cleartext != "off" or cfg.proxy_protocol not in ("off", False, None):
            raise RuntimeError("bot.serving.BufferingWorker serves plain HTTP/1.1: terminate TLS, HTTP/2 and the "
                               "PROXY protocol in front of it (docs/serving.md)")
        super().check_config(cfg, log)

    def init_process(self) -> None:
        self.worker_connections = connection_bound(self.cfg.worker_connections, self.cfg.threads, self.log)
        self.max_keepalived = max(self.worker_connections - self.cfg.threads, 1)
        super().init_process()  # runs the loop

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from bot.webhook import BUFFERED_KEY  # late: the app (and Flask) is loaded by now

        app = self.wsgi

        def buffered(environ: dict[str, Any], start_response: Any) -> Any:
            environ[BUFFERED_KEY] = True  # the app reads the body from memory, with no socket deadline
            return app(environ, start_response)

        self.wsgi = buffered

    # -- the main loop's hooks (ThreadWorker.run calls these) ---------------------------------------------------

    def accept(self, listener: socket.socket) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                client, address = listener.accept()
            except OSError as err:
                if err.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                    return
                raise
            self.nr_conns += 1
            conn = BufferedConn(self.cfg, client, address, listener.getsockname())
            self._park(conn, time.monotonic() + HEADER_TIMEOUT_S)
            self._on_readable(conn, None)  # a client's request often arrives with its connection
            self._make_room()

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if self.deadlines:
            timeout = min(timeout, max(self.deadlines[0][0] - time.monotonic(), 0.0))
        super().wait_for_and_dispatch_events(timeout)

    def murder_keepalived(self, force: bool = False) -> None:
        """Act on the deadlines that passed: idle connections close, partial requests get a 408."""
        if force:
            for conn in list(self.waiting):
                self._drop(conn)
            return
        now = time.monotonic()
        while self.deadlines and self.deadlines[0][0] <= now:
            deadline, _, conn = heapq.heappop(self.deadlines)
            if conn not in self.waiting or conn.deadline != deadline:
                continue  # moved on since this entry was pushed
            if conn.lingering or not conn.got_bytes:
                self._drop(conn)
            else:
                self._refuse(conn, Refusal(408, "slow_body" if conn.framing.head_end >= 0 else "slow_headers"))

    def _cap_keepalive(self, deadline: float) -> None:
        """Stopping: idle connections close by `deadline`; requests already arriving keep their own."""
        for conn in list(self.waiting):
            if not conn.got_bytes and conn.deadline > deadline:
                self._set_deadline(conn, deadline)

    def finish_request(self, conn: BufferedConn, fs: Any) -> None:
        """A thread is done with `conn`: park it for its next request, or close it."""
        try:
            keep = bool(fs.result()) if not fs.cancelled() else False
        except Exception:  # noqa: BLE001 - gunicorn's handle() answers errors itself; close whatever is left
            keep = False
        if not keep or not self.alive:
            self._close_after_answer(conn)
            return
        conn.sock.setblocking(False)
        conn.served += 1
        conn.framing, conn.continue_sent = Framing(), False
        conn.got_bytes = bool(conn.buf)  # a pipelined request already arriving
        self._park(conn, time.monotonic() + (HEADER_TIMEOUT_S if conn.got_bytes else self.cfg.keepalive))
        if conn.buf:
            self._advance(conn)

    # -- in a pool thread ------------------------------------------------------------------------------------

    def handle_request(self, req: Any, conn: BufferedConn) -> bool:
        if conn.continue_sent:
            req._expected_100_continue = False  # the main loop said "100 Continue" already
        conn.sock.settimeout(WRITE_TIMEOUT_S)
        return super().handle_request(req, conn)

    # -- parked connections ------------------------------------------------------------------------------------

    def _park(self, conn: BufferedConn, deadline: float) -> None:
        self.waiting[conn] = None
        if not conn.buf:
            self.silent[conn] = None
        self._set_deadline(conn, deadline)
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._on_readable, conn))

    def _unpark(self, conn: BufferedConn) -> None:
        self.waiting.pop(conn, None)
        self.silent.pop(conn, None)
        try:
            self.poller.unregister(conn.sock)
        except (KeyError, ValueError, OSError):
            pass

    def _set_deadline(self, conn: BufferedConn, deadline: float) -> None:
        conn.deadline = deadline
        heapq.heappush(self.deadlines, (deadline, next(self._order), conn))

    def _make_room(self) -> None:
        """At the bound, close the connection that has waited longest, not a new one: first among those that
        have sent nothing (idle, or closing after an answer), then among those still sending a request."""
        while self.nr_conns >= self.worker_connections and self.waiting:
            oldest = next(iter(self.silent or self.waiting))
            self._count("shed")
            self._drop(oldest)

    def _on_readable(self, conn: BufferedConn, _sock: Any) -> None:
        try:
            data = conn.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        if conn.lingering:
            return
        if not conn.got_bytes:
            conn.got_bytes = True
            self.silent.pop(conn, None)
            if conn.served:  # a kept-alive connection's next request: its head's time starts now
                self._set_deadline(conn, time.monotonic() + HEADER_TIMEOUT_S)
        conn.buf += data
        self._advance(conn)

    def _advance(self, conn: BufferedConn) -> None:
        had_head = conn.framing.head_end >= 0
        try:
            end = frame(conn.buf, conn.framing)
        except Refusal as refusal:
            self._refuse(conn, refusal)
            return
        if end is not None:
            self._dispatch(conn, end)
            return
        if not had_head and conn.framing.head_end >= 0:  # the head is in: now the body's own deadline
            self._set_deadline(conn, time.monotonic() + BODY_DEADLINE_S)
            if conn.framing.expects_continue:
                conn.continue_sent = _send_now(conn.sock, b"HTTP/1.1 100 Continue\r\n\r\n")

    def _dispatch(self, conn: BufferedConn, end: int) -> None:
        """Hand one complete request to the pool; gunicorn parses it from memory (an iterable source)."""
        self._unpark(conn)
        request = bytes(conn.buf[:end])
        del conn.buf[:end]
        conn.parser = http.get_parser(self.cfg, [request], conn.client)
        self.enqueue_req(conn)

    def _refuse(self, conn: BufferedConn, refusal: Refusal) -> None:
        self._count(refusal.reason)
        _send_now(conn.sock, fixed_answer(refusal.status))
        self._linger(conn)

    def _close_after_answer(self, conn: BufferedConn) -> None:
        """Close without discarding the answer just written (RFC 9112 9.6), lingering in the selector: gunicorn's
        close_graceful would block this loop for up to 2 s on a client that does not close."""
        conn.sock.setblocking(False)
        self._park(conn, time.monotonic() + LINGER_S)
        self._linger(conn)

    def _linger(self, conn: BufferedConn) -> None:
        conn.lingering = True
        conn.buf.clear()
        self.silent[conn] = None
        try:
            conn.sock.shutdown(socket.SHUT_WR)
        except OSError:
            self._drop(conn)
            return
        self._set_deadline(conn, time.monotonic() + LINGER_S)

    def _drop(self, conn: BufferedConn) -> None:
        self._unpark(conn)
        self.nr_conns -= 1
        util.close(conn.sock)

    @staticmethod
    def _count(reason: str) -> None:
        from bot import metrics  # late: the metrics' multiprocess directory is set up by bot/gunicorn_conf.py

        metrics.REJECTED.labels(reason).inc()


def _send_now(sock: socket.socket, payload: bytes) -> bool:
    """One non-blocking send of a short answer; a client whose buffer is full does not get it."""
    try:
        return sock.send(payload) == len(payload)
    except OSError:
        return False


def connection_bound(wanted: int, threads: int, log: Any) -> int:
    """`worker_connections`, lowered to what the descriptor limit allows after raising the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = wanted + threads + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    bound = max(soft - threads - FD_RESERVE, 1)
    log.warning("open-file limit %s: serving at most %s connections per worker, not %s", soft, bound, wanted)
    return bound
