"""The sandbox Feishu in its own process, with `/_bench/` controls the benchmark needs and the sandbox lacks.

`python -m bench.sandbox_proc PORT` serves a freshly seeded sandbox on 127.0.0.1:PORT. Extra routes:
- POST /_bench/seed {"approver": "manager", "n": 100} -> {"codes": [...]}: n more PENDING remedy requests;
- POST /_bench/user_message {"user", "chat_id", "message_id"}: record a user's message (so the bot may reply);
- GET /_bench/replies?parent=<message_id> -> {"messages": [...]}: the bot's replies to that message;
- GET /_bench/count?endpoint=process -> {"calls": n}: how many calls an endpoint got; GET /_bench/counts: all;
- POST /_bench/longconn_push {"n", "concurrency", "seconds"}: that many group messages (no mention) pushed over
  the long connection to the one connected client, `concurrency` in flight -> {"answered", "accepted",
  "seconds", "latencies_s"}; GET /_bench/longconn_ready: 200 once a client is connected, else 503.
Rate limits are off (`state.rate_limits = {}`): the benchmark measures the bot, not Feishu's quotas.
A separate process keeps the sandbox's CPU and GIL away from the load generator's; it is served by gunicorn
(gthread), which keeps connections alive as Feishu's Open API does (see `_KeepAliveServer`).
"""

from __future__ import annotations

import secrets
import sys
import threading
import time
from collections import Counter

from flask import Flask, Response, jsonify, request
from gunicorn.app.base import BaseApplication

from sandbox.app import create_sandbox_app
from sandbox.data import seed_pending
from sandbox.longconn import LongConnHub
from sandbox.sender import EventSender
from sandbox.state import SandboxState


def bench_sandbox(state: SandboxState) -> Flask:
    app = create_sandbox_app(state)

    @app.post("/_bench/seed")
    def seed() -> Response:
        body = request.get_json(force=True)
        count = max(0, min(int(body.get("n", 0)), 100_000))
        return jsonify({"codes": seed_pending(state, str(body.get("approver", "manager")), count)})

    @app.post("/_bench/user_message")
    def user_message() -> Response:
        body = request.get_json(force=True)
        state.record_user_message(str(body["user"]), str(body["chat_id"]), str(body.get("text", "")),
                                  message_id=str(body["message_id"]))
        return jsonify({"ok": True})

    @app.get("/_bench/replies")
    def replies() -> Response:
        parent = request.args.get("parent", "")
        with state.lock:
            found = [{"message_id": m["message_id"], "body": m["body"]} for m in state.messages.values()
                     if m["from_bot"] and m.get("parent_id") == parent]
        return jsonify({"messages": found})

    @app.get("/_bench/count")
    def count() -> Response:
        endpoint = request.args.get("endpoint", "")
        with state.lock:
            return jsonify({"calls": sum(1 for c in state.calls if c.endpoint == endpoint)})

    @app.get("/_bench/counts")
    def counts() -> Response:
        with state.lock:
            return jsonify({"calls": dict(Counter(c.endpoint for c in state.calls))})

    hub: LongConnHub = app.extensions["sandbox_longconn"]

    @app.get("/_bench/longconn_ready")
    def longconn_ready() -> tuple[Response, int]:
        clients = len(hub.connected_clients())
        return jsonify({"clients": clients}), 200 if clients else 503

    @app.post("/_bench/longconn_push")
    def longconn_push() -> Response:
        body = request.get_json(force=True)
        return jsonify(push_messages(hub, state, max(1, min(int(body.get("n", 1)), 200_000)),
                                     max(1, min(int(body.get("concurrency", 1)), 256)),
                                     max(0.1, min(float(body.get("seconds", 5.0)), 60.0))))

    @app.post("/_bench/forget_calls")
    def forget_calls() -> Response:
        # The call log grows with every request; a long benchmark keeps it short (nothing here reads old calls).
        with state.lock:
            state.calls.clear()
        return jsonify({"ok": True})

    return app


def push_messages(hub: LongConnHub, state: SandboxState, n: int, concurrency: int, seconds: float) -> dict:
    """Group messages without a mention pushed through the hub, `concurrency` at a time, each waited for (as
    Feishu waits 3 s per message); bounded by `n` and `seconds`."""
    sender = EventSender("longconn://bench", encrypt_key="", verification_token="", state=state)
    payloads = [sender.message_payload("employee", f"lunch at noon? #{i}", chat="group",
                                       event_id=secrets.token_hex(16)) for i in range(n)]
    lock = threading.Lock()
    taken: list[int] = [0]
    latencies: list[float] = []
    accepted: list[int] = [0]
    started = time.monotonic()
    deadline = started + seconds

    def one_flow() -> None:
        while time.monotonic() < deadline:
            with lock:
                if taken[0] >= n:
                    return
                payload = payloads[taken[0]]
                taken[0] += 1
            sent = time.perf_counter()
            delivery = hub.push_event(payload)
            with lock:
                latencies.append(time.perf_counter() - sent)
                accepted[0] += 1 if delivery.accepted else 0

    flows = [threading.Thread(target=one_flow, daemon=True) for _ in range(concurrency)]
    for flow in flows:
        flow.start()
    for flow in flows:
        flow.join(seconds + 10)
    with hub._lock:  # noqa: SLF001 - a benchmark of many pushes must not keep them all
        hub.deliveries.clear()
    return {"answered": len(latencies), "accepted": accepted[0], "seconds": time.monotonic() - started,
            "latencies_s": latencies}


class _KeepAliveServer(BaseApplication):
    """gunicorn's gthread worker, one process (the sandbox's state lives in it), many threads. Feishu's Open
    API keeps connections alive; werkzeug's development server closes every one after its answer, which would
    make a client that pools connections pay for a TCP set-up (and the sandbox for a thread) on every call."""

    def __init__(self, app: Flask, port: int) -> None:
        self._app = app
        self._port = port
        super().__init__()

    def load_config(self) -> None:
        settings = {"bind": f"127.0.0.1:{self._port}", "workers": 1, "worker_class": "gthread", "threads": 64,
                    "keepalive": 60, "timeout": 120, "graceful_timeout": 5, "loglevel": "warning",
                    "control_socket_disable": True, "worker_connections": 4096}
        for name, value in settings.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._app


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else 0
    if not port:
        raise SystemExit("usage: python -m bench.sandbox_proc PORT")
    state = SandboxState()
    state.rate_limits = {}
    sys.stdout.write(f"sandbox: http://127.0.0.1:{port}\n")
    sys.stdout.flush()
    _KeepAliveServer(bench_sandbox(state), port).run()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
