"""Load generators: wrk (Debian's 4.1.0, one client thread) driven by a Lua script over a file of pre-built
requests, and a small asyncio client (keep-alive raw sockets) used when wrk is missing and for the click runs,
whose answers we read. Both are bounded by a request count and a duration.
"""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench.events import write_for_wrk

WRK_SCRIPT = Path(__file__).with_name("wrk_events.lua")
READ_TIMEOUT_S = 10.0


@dataclass
class LoadResult:
    client: str
    connections: int
    requests: int  # answered (any status)
    duration_s: float
    p50_s: float
    p99_s: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0  # connection errors and timeouts
    exhausted: bool = False  # ran out of pre-built requests before the duration ended
    latencies_s: list[float] = field(default_factory=list, repr=False)
    bodies: list[bytes] = field(default_factory=list, repr=False)

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def non_200(self) -> int:
        return sum(n for status, n in self.statuses.items() if status != 200) + self.errors


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of unsorted values; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def wrk_available() -> bool:
    return shutil.which("wrk") is not None


# -- wrk -----------------------------------------------------------------------------------------------------


def run_wrk(port: int, requests: list[bytes], connections: int, duration_s: float, work_dir: Path) -> LoadResult:
    """wrk -t1 over the pre-built requests, each sent at most once; stops at the duration or when they run out."""
    with tempfile.NamedTemporaryFile(dir=work_dir, suffix=".reqs", delete=False) as handle:
        path = Path(handle.name)
    write_for_wrk(requests, path)
    seconds = max(1, math.ceil(duration_s))
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", f"{int(READ_TIMEOUT_S)}s",
            "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}/webhook/event", "--", str(path)]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60, check=False)
    finally:
        path.unlink(missing_ok=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr.strip()[-500:]} {done.stdout[-500:]}")
    found = json.loads(line[6:])
    statuses: Counter[int] = Counter({200: found["requests"] - found["status_errors"]})
    if found["status_errors"]:
        statuses[0] = found["status_errors"]  # wrk counts non-2xx/3xx answers without saying which
    return LoadResult(
        client="wrk", connections=connections, requests=found["requests"], duration_s=found["duration_us"] / 1e6,
        p50_s=found["p50_us"] / 1e6, p99_s=found["p99_us"] / 1e6, statuses=statuses,
        errors=found["connect"] + found["read"] + found["write"] + found["timeout"],
        exhausted=bool(found["exhausted"]),
    )


# -- the asyncio client --------------------------------------------------------------------------------------


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
    else:
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, body, headers.get("connection", "").lower() == "close"


class _Run:
    def __init__(self, ports: tuple[int, ...], requests: list[bytes], deadline: float, keep_bodies: bool) -> None:
        self.ports = ports
        self.requests = requests
        self.deadline = deadline
        self.keep_bodies = keep_bodies
        self.next = 0
        self.latencies: list[float] = []
        self.statuses: Counter[int] = Counter()
        self.errors = 0
        self.bodies: list[bytes] = []

    def take(self) -> bytes | None:
        if self.next >= len(self.requests) or time.monotonic() >= self.deadline:
            return None
        self.next += 1
        return self.requests[self.next - 1]

    async def connection(self, index: int) -> None:
        port = self.ports[index % len(self.ports)]  # several servers: connections round-robin over them
        reader = writer = None
        try:
            while (request := self.take()) is not None:
                started = time.perf_counter()
                try:
                    if writer is None:
                        reader, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(request)
                    status, body, close = await asyncio.wait_for(_read_response(reader), READ_TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    self.errors += 1
                    if writer is not None:
                        writer.close()
                    reader = writer = None
                    continue
                self.latencies.append(time.perf_counter() - started)
                self.statuses[status] += 1
                if self.keep_bodies:
                    self.bodies.append(body)
                if close:
                    writer.close()
                    reader = writer = None
        finally:
            if writer is not None:
                writer.close()


def run_python(port: int | tuple[int, ...], requests: list[bytes], connections: int, duration_s: float,
               keep_bodies: bool = False) -> LoadResult:
    """`connections` keep-alive connections, each sending the next request as soon as its answer is read; with
    several ports, connection i goes to port i mod n (a round-robin balancer in front of several instances)."""
    started = time.monotonic()
    run = _Run(port if isinstance(port, tuple) else (port,), requests, started + duration_s, keep_bodies)

    async def main() -> None:
        await asyncio.gather(*(run.connection(i) for i in range(connections)))

    asyncio.run(main())
    elapsed = time.monotonic() - started
    return LoadResult(
        client="python-asyncio", connections=connections, requests=len(run.latencies), duration_s=elapsed,
        p50_s=percentile(run.latencies, 50), p99_s=percentile(run.latencies, 99), statuses=run.statuses,
        errors=run.errors, exhausted=run.next >= len(requests) and elapsed < duration_s,
        latencies_s=run.latencies, bodies=run.bodies,
    )


def run_load(port: int, requests: list[bytes], connections: int, duration_s: float, work_dir: Path,
             use_wrk: bool) -> LoadResult:
    if use_wrk:
        return run_wrk(port, requests, connections, duration_s, work_dir)
    return run_python(port, requests, connections, duration_s)
