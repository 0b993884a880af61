"""The sandbox Feishu in its own process, with `/_bench/` controls the benchmark needs and the sandbox lacks.

`python -m bench.sandbox_proc PORT` serves a freshly seeded sandbox on 127.0.0.1:PORT. Extra routes:
- POST /_bench/seed {"approver": "manager", "n": 100} -> {"codes": [...]}: n more PENDING remedy requests;
- POST /_bench/user_message {"user", "chat_id", "message_id"}: record a user's message (so the bot may reply);
- GET /_bench/replies?parent=<message_id> -> {"messages": [...]}: the bot's replies to that message;
- GET /_bench/count?endpoint=process -> {"calls": n}: how many calls an endpoint got.
A separate process keeps the sandbox's CPU and GIL away from the load generator's.
"""

from __future__ import annotations

import sys

from flask import Flask, Response, jsonify, request
from werkzeug.serving import make_server

from sandbox.app import create_sandbox_app
from sandbox.data import seed_pending
from sandbox.server import QuietHandler
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

    @app.post("/_bench/forget_calls")
    def forget_calls() -> Response:
        # The call log grows with every request; a long benchmark keeps it short (nothing here reads old calls).
        with state.lock:
            state.calls.clear()
        return jsonify({"ok": True})

    return app


def main(argv: list[str]) -> int:
    port = int(argv[0]) if argv else 0
    server = make_server("127.0.0.1", port, bench_sandbox(SandboxState()), threaded=True,
                         request_handler=QuietHandler)
    sys.stdout.write(f"sandbox: http://127.0.0.1:{server.server_port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever(poll_interval=0.1)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
