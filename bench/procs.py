"""Starting and stopping the servers under test, by PID, and reading their memory.

Each server runs in its own session (process group) so that the master and its workers are signalled together
through the PID we started, never by name. Every wait is bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0  # lark-oapi imported by two workers at once on a busy machine
STOP_TIMEOUT_S = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    log_path: Path
    health_path: str = "/healthz"
    proc: subprocess.Popen[bytes] | None = None
    launched_at: float = 0.0
    healthy_after_s: float | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self, timeout_s: float = START_TIMEOUT_S) -> Server:
        """Launch, then poll the health URL; `healthy_after_s` is launch → first 200."""
        log = self.log_path.open("ab")
        self.launched_at = time.monotonic()
        self.proc = subprocess.Popen(self.argv, env=self.env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        deadline = self.launched_at + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log_path}")
            if healthy(self.url + self.health_path):
                self.healthy_after_s = time.monotonic() - self.launched_at
                return self
            time.sleep(0.01)
        self.stop()
        raise RuntimeError(f"{self.name} not healthy within {timeout_s:.0f} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM to the group we started (gunicorn stops its workers), SIGKILL if it lingers."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT_S)

    def pss_kib(self) -> tuple[int, int]:
        """(PSS summed over master and workers in KiB, number of processes)."""
        pids = [self.pid, *children(self.pid)]
        return sum(pss_kib(pid) for pid in pids), len(pids)


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1.0) as response:  # noqa: S310 - a 127.0.0.1 URL we built
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):
            found.extend(int(p) for p in task.read_text().split())
    return found


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        return 0
    return 0


def base_env(extra: Mapping[str, str]) -> dict[str, str]:
    """The environment for a child: ours, minus any bot settings, plus `extra`; the repo on the path."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("FEISHU_", "BOT_", "PEER_")) and k not in ("DATABASE_URL", "PORT", "HOST",
                                                                         "WEB_CONCURRENCY")}
    env["PYTHONPATH"] = str(REPO) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


def gunicorn(name: str, app: str, conf: str, env: Mapping[str, str], log_dir: Path) -> Server:
    """A gunicorn server for `app` with the settings module `conf`, on a free 127.0.0.1 port."""
    port = free_port()
    full = base_env({**env, "HOST": "127.0.0.1", "PORT": str(port)})
    # --no-control-socket: gunicorn 27 otherwise binds one shared ~/.gunicorn/gunicorn.ctl per user, which
    # two servers (or a test suite running beside us) would take from each other; it does not touch requests.
    argv = [sys.executable, "-m", "gunicorn", "-c", f"python:{conf}", "--no-control-socket", app]
    return Server(name, argv, full, port, log_dir / f"{name}.log")


def sandbox(log_dir: Path) -> Server:
    port = free_port()
    argv = [sys.executable, "-m", "bench.sandbox_proc", str(port)]
    return Server("sandbox", argv, base_env({}), port, log_dir / "sandbox.log", health_path="/_sandbox/samples")
