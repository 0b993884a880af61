"""Serving WSGI apps on 127.0.0.1 for tests, the demo and `approval-bot sandbox --port N`."""

from __future__ import annotations

import contextlib
import logging
import socket
import sys
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)


class QuietHandler(WSGIRequestHandler):
    """No per-request lines on stderr; errors go to logging."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        pass

    def log(self, type: str, message: str, *args: Any) -> None:  # noqa: A002 - werkzeug's signature
        if type == "error":
            log.warning("%s - " + message, self.address_string(), *args)


class ServerThread:
    """Runs a WSGI app with werkzeug's threaded server in a daemon thread. `port=0` picks a free port."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.app = app
        self.host = host
        self._requested_port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> ServerThread:
        if self._server is not None:
            return self
        self._server = make_server(self.host, self._requested_port, self.app, threaded=True,
                                   request_handler=QuietHandler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"wsgi-{self.host}:{self.port}", daemon=True)
        self._thread.start()
        return self

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        if self._server is None:
            return
        _stop_long_connection(self.app)
        stopping = threading.Thread(target=self._server.shutdown, name="wsgi-stop", daemon=True)
        stopping.start()
        while stopping.is_alive():  # a connection wakes the serving loop now, not after its poll interval
            with contextlib.suppress(OSError):
                socket.create_connection((self.host, self.port), timeout=1).close()
            stopping.join(0.01)
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server, self._thread = None, None

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _stop_long_connection(app: Any) -> None:
    """The sandbox's WebSocket server (sandbox/longconn.py) lives as long as the HTTP server that hands it out."""
    hub = getattr(app, "extensions", {}).get("sandbox_longconn")
    if hub is not None:
        hub.stop()


def run_sandbox(port: int, host: str = "127.0.0.1") -> None:
    """Serve a freshly seeded sandbox until interrupted (the `approval-bot sandbox --port N` entry point)."""
    from sandbox.app import create_sandbox_app

    app = create_sandbox_app()
    server = make_server(host, port, app, threaded=True, request_handler=QuietHandler)
    sys.stdout.write(f"sandbox: http://{host}:{server.server_port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        _stop_long_connection(app)
        server.server_close()
