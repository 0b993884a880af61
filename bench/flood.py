"""Slow clients on 127.0.0.1, and probes that time the answers a real client gets meanwhile.

`Flood` keeps `slow_headers` connections trickling request headers (one line per `line_interval_s`, never the
blank line that ends them) and `idle` connections that say nothing, from one thread with a selector. A connection
the server closes (408, idle timeout, shed) is opened again, as an attacker would: the counts stay up for the
whole flood. Everything is bounded: the connection counts, the flood's duration, every probe's timeout.
"""

from __future__ import annotations

import contextlib
import errno
import resource
import selectors
import socket
import statistics
import threading
import time
from dataclasses import dataclass, field

SLOW_REQUEST_LINE = b"POST /webhook/event HTTP/1.1\r\nHost: 127.0.0.1\r\n"
OPEN_PER_ROUND = 100  # new connections per loop round: a steady stream, not one burst of SYNs
MAX_FLOOD_S = 600.0


def raise_fd_limit(needed: int) -> int:
    """Raise this process's soft open-file limit to `needed` (within the hard limit); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


@dataclass
class FloodStats:
    opened: int = 0
    closed_by_server: int = 0
    answers_408: int = 0
    connect_errors: int = 0
    peak_open: int = 0


@dataclass
class _Slow:
    sock: socket.socket
    trickles: bool
    next_line_at: float
    lines_sent: int = 0


class Flood:
    """Start with `start()`, end with `stop()` (or use it as a context manager)."""

    def __init__(self, port: int, slow_headers: int, idle: int, line_interval_s: float = 1.0,
                 max_s: float = MAX_FLOOD_S) -> None:
        self.port = port
        self.targets = {True: slow_headers, False: idle}
        self.line_interval_s = line_interval_s
        self.max_s = max_s
        self.stats = FloodStats()
        self._selector = selectors.DefaultSelector()
        self._open: dict[int, _Slow] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flood", daemon=True)
        raise_fd_limit(slow_headers + idle + 256)

    def __enter__(self) -> Flood:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def start(self) -> Flood:
        self._thread.start()
        return self

    def wait_until_open(self, timeout_s: float = 30.0) -> bool:
        """True once every connection of the flood is open at the same time."""
        deadline = time.monotonic() + timeout_s
        want = sum(self.targets.values())
        while time.monotonic() < deadline:
            if len(self._open) >= want:
                return True
            time.sleep(0.05)
        return False

    def open_now(self) -> int:
        return len(self._open)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)
        for slow in list(self._open.values()):
            self._forget(slow)
        self._selector.close()

    # -- the flood's thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        ends = time.monotonic() + self.max_s
        while not self._stop.is_set() and time.monotonic() < ends:
            self._top_up()
            for key, _ in self._selector.select(timeout=0.05):
                self._on_readable(key.data)
            self._trickle(time.monotonic())
            self.stats.peak_open = max(self.stats.peak_open, len(self._open))

    def _top_up(self) -> None:
        counts = {True: 0, False: 0}
        for slow in self._open.values():
            counts[slow.trickles] += 1
        budget = OPEN_PER_ROUND
        for trickles, want in self.targets.items():
            for _ in range(min(want - counts[trickles], budget)):
                budget -= 1
                self._connect(trickles)

    def _connect(self, trickles: bool) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        code = sock.connect_ex(("127.0.0.1", self.port))
        if code not in (0, errno.EINPROGRESS):
            self.stats.connect_errors += 1
            sock.close()
            return
        slow = _Slow(sock, trickles, next_line_at=time.monotonic())
        self._open[sock.fileno()] = slow
        self._selector.register(sock, selectors.EVENT_READ, slow)
        self.stats.opened += 1

    def _trickle(self, now: float) -> None:
        for slow in list(self._open.values()):
            if not slow.trickles or now < slow.next_line_at:
                continue
            line = SLOW_REQUEST_LINE if slow.lines_sent == 0 else f"X-Slow-{slow.lines_sent}: 1\r\n".encode()
            try:
                slow.sock.send(line)
            except (BlockingIOError, InterruptedError):
                continue  # still connecting: try again next round
            except OSError:
                self._forget(slow)
                continue
            slow.lines_sent += 1
            slow.next_line_at = now + self.line_interval_s

    def _on_readable(self, slow: _Slow) -> None:
        try:
            data = slow.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if data.startswith(b"HTTP/1.1 408"):
            self.stats.answers_408 += 1
        self.stats.closed_by_server += 1
        self._forget(slow)  # the server answered or closed: this one is done, a new one takes its place

    def _forget(self, slow: _Slow) -> None:
        self._open.pop(slow.sock.fileno(), None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(slow.sock)
        slow.sock.close()


# -- probes: what a real client sees ---------------------------------------------------------------------------


@dataclass
class Probes:
    """Latencies of one kind of probe; a probe that got no complete 200 in time counts as a failure."""

    name: str
    timeout_s: float
    latencies_s: list[float] = field(default_factory=list)
    failures: int = 0

    def add(self, seconds: float, ok: bool) -> None:
        self.latencies_s.append(seconds if ok else self.timeout_s)
        self.failures += 0 if ok else 1

    def quantile(self, q: float) -> float:
        ordered = sorted(self.latencies_s)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    @property
    def p50_s(self) -> float:
        return statistics.median(self.latencies_s) if self.latencies_s else float("nan")

    @property
    def p99_s(self) -> float:
        return self.quantile(0.99)

    @property
    def max_s(self) -> float:
        return max(self.latencies_s, default=float("nan"))

    def summary(self) -> str:
        return (f"{self.name}: n={len(self.latencies_s)} p50 {self.p50_s * 1e3:.0f} ms, p99 {self.p99_s * 1e3:.0f} ms,"
                f" max {self.max_s * 1e3:.0f} ms, {self.failures} failed (no 200 within {self.timeout_s:.0f} s)")


def exchange(port: int, request: bytes, timeout_s: float) -> tuple[int, float]:
    """Send one request on a new connection; (status, seconds to the whole answer). Status 0: none in time."""
    started = time.monotonic()
    deadline = started + timeout_s
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
            sock.sendall(request)
            status = _read_answer(sock, deadline)
    except OSError:
        status = 0
    return status, time.monotonic() - started


def _read_answer(sock: socket.socket, deadline: float) -> int:
    data = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            return 0
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            continue
        length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)
        if len(body) >= length:
            return int(head.split(b" ", 2)[1])


def health_request(port: int) -> bytes:
    return f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n".encode()


def probe(port: int, requests: list[bytes], probes: Probes, interval_s: float, duration_s: float) -> None:
    """Send `requests` one at a time, each `interval_s` after the last one started, for `duration_s` at most."""
    ends = time.monotonic() + duration_s
    for request in requests:
        if time.monotonic() >= ends:
            return
        started = time.monotonic()
        status, seconds = exchange(port, request, probes.timeout_s)
        probes.add(seconds, status == 200)
        time.sleep(max(0.0, interval_s - (time.monotonic() - started)))
