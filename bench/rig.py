"""The test rig: one sandbox Feishu, the bot and the peers, all on 127.0.0.1, all stopped on exit."""

from __future__ import annotations

import json
import sys
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from bench import events, procs
from sandbox.data import APP_ID, APP_SECRET

ACTION_ENDPOINTS = ("process", "task_approve", "task_reject")  # the calls that act, in either world

PEERS = {
    "A": "bench.peers.a_flask:create_app()",
    "B": "bench.peers.b_lark:create_app()",
    "C": "bench.peers.c_naive:create_app()",
}
BOT_APP = "bot.app:create_app()"
BOT_CONF = "bot.gunicorn_conf"
PEER_CONF = "bench.peers.gunicorn_conf"


class Rig:
    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.log_dir = work_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.sandbox = procs.sandbox(self.log_dir)
        self._servers: list[procs.Server] = [self.sandbox]
        self._count = 0

    def __enter__(self) -> Rig:
        self.sandbox.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop_all()

    def stop_all(self) -> None:
        for server in reversed(self._servers):
            server.stop()

    # -- servers ------------------------------------------------------------------------------------------------

    def env(self, database_url: str = "") -> dict[str, str]:
        """The Procfile's environment for a bot against the sandbox; a fresh store file per server unless
        `database_url` names a shared store."""
        self._count += 1
        return {
            "FEISHU_APP_ID": APP_ID,
            "FEISHU_APP_SECRET": APP_SECRET,
            "FEISHU_VERIFICATION_TOKEN": events.VERIFICATION_TOKEN,
            "FEISHU_ENCRYPT_KEY": events.ENCRYPT_KEY,
            "FEISHU_BASE_URL": self.sandbox.url,
            "DATABASE_URL": database_url or f"sqlite:///{self.work_dir / f'store-{self._count}.sqlite3'}",
            "BOT_ADMINS": "ou_admin",
            "BOT_LOCALE": "en_us",
            # the sandbox's own task-call limit is off in the bench (sandbox_proc.py): so is the bot's pacing
            "BOT_TASK_CALLS_PER_MINUTE": "1000000",
        }

    def bot(self, name: str = "bot", *, database_url: str = "") -> procs.Server:
        return self._track(procs.gunicorn(name, BOT_APP, BOT_CONF, self.env(database_url), self.log_dir))

    def peer(self, which: str, *, preload: bool = True, name: str | None = None) -> procs.Server:
        env = {**self.env(), "PEER_PRELOAD": "1" if preload else "0"}
        return self._track(procs.gunicorn(name or which, PEERS[which], PEER_CONF, env, self.log_dir))

    def longconn(self, which: str) -> procs.Server:
        """`approval-bot connect` ("bot") or the SDK's own ws.Client with an empty handler ("peer"), both against
        the sandbox's long-connection server; healthy once the sandbox sees the client connected."""
        env = procs.base_env(self.env())
        if which == "bot":
            argv = [sys.executable, "-m", "bot.cli", "connect", "--health-port", str(procs.free_port())]
        else:
            argv = [sys.executable, "-m", "bench.peers.ws_empty"]
        server = procs.Server(f"longconn-{which}", argv, env, self.sandbox.port, self.log_dir / f"longconn-{which}.log",
                              health_path="/_bench/longconn_ready")
        return self._track(server)

    def _track(self, server: procs.Server) -> procs.Server:
        self._servers.append(server)
        return server

    # -- the sandbox's controls ---------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.sandbox.url + path, data=data, method=method,  # noqa: S310
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our 127.0.0.1 sandbox
            return json.loads(response.read())

    def seed(self, approver: str, n: int) -> list[str]:
        return list(self.call("POST", "/_bench/seed", {"approver": approver, "n": n})["codes"])

    def set_latency(self, endpoint: str, latency_s: float) -> None:
        """Feishu's action latency: `endpoint` may be "action", the calls that act in either world."""
        self.call("DELETE", "/_sandbox/faults")
        if latency_s > 0:
            for name in ACTION_ENDPOINTS if endpoint == "action" else (endpoint,):
                self.call("POST", "/_sandbox/faults", {"endpoint": name, "latency_s": latency_s})

    def count_calls(self, endpoint: str) -> int:
        if endpoint == "action":
            return sum(self.count_calls(name) for name in ACTION_ENDPOINTS)
        return int(self.call("GET", f"/_bench/count?endpoint={endpoint}")["calls"])

    def all_calls(self) -> dict[str, int]:
        """Calls per Open API endpoint since the last `forget_calls` (token requests included)."""
        return {str(k): int(v) for k, v in self.call("GET", "/_bench/counts")["calls"].items()}

    def push_longconn(self, n: int, concurrency: int, seconds: float) -> dict[str, Any]:
        return dict(self.call("POST", "/_bench/longconn_push", {"n": n, "concurrency": concurrency,
                                                                "seconds": seconds}))

    def forget_calls(self) -> None:
        self.call("POST", "/_bench/forget_calls", {})
