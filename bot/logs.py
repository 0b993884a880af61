"""Structured logs: one JSON object per line, with the request id; no secrets or message text."""

from __future__ import annotations

import atexit
import functools
import itertools
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping

_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR,
           "CRITICAL": logging.CRITICAL}
_FIELDS = ("request_id", "event_id", "approval_id", "log_id", "event_type", "status", "duration_ms")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            try:
                from flask import g, has_request_context

                record.request_id = g.get("request_id", "") if has_request_context() else ""
            except ImportError:  # pragma: no cover
                record.request_id = ""
        return True


@functools.lru_cache(maxsize=4)  # a second's lines share their prefix: formatted once, not per line
def _utc_second(second: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": _utc_second(int(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value:
                entry[name] = value
        if record.exc_info and record.exc_info[0] is not None:
            entry["error"] = record.exc_info[0].__name__  # the type only: exception text may hold user data
        return json.dumps(entry, ensure_ascii=False)


class BackgroundHandler(logging.Handler):
    """Hands each record to one writer thread, which formats and writes it with `target`: the request's thread
    only filters (the request id is read there) and queues, so no request waits on the stream's lock or on
    the write (one access line per request, docs/serving.md). The writer wakes once per batch, not per line:
    after the first record it waits BATCH_S for others and writes them all at once (one write and one flush
    for a stream). The thread is started in each process on first use (a forked worker has none) and drained
    at exit."""

    BATCH_S = 0.02  # how long a line may wait for others to be written with it

    def __init__(self, target: logging.Handler) -> None:
        super().__init__()
        self.target = target
        self._pid = -1
        self._queue: queue.SimpleQueue[logging.LogRecord | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._start_lock = threading.Lock()
        _handlers.add(self)

    def emit(self, record: logging.LogRecord) -> None:
        if self._writer is None:
            self._start()
        record.message = record.getMessage()  # the arguments as they are now, not when the writer gets to them
        record.msg, record.args = record.message, None
        self._queue.put(record)

    def _start(self) -> None:
        with self._start_lock:
            if self._writer is not None:
                return
            self._queue = queue.SimpleQueue()
            self._writer = threading.Thread(target=self._drain, args=(self._queue,), name="log-writer", daemon=True)
            self._writer.start()
            self._pid = os.getpid()
            atexit.register(self.drain)

    def _forked(self) -> None:
        """In a new child: the parent's writer thread is not there (the next record starts one)."""
        self._writer, self._pid = None, -1
        self._start_lock = threading.Lock()

    def _drain(self, lines: queue.SimpleQueue[logging.LogRecord | None]) -> None:
        while True:
            first = lines.get()
            if first is not None:
                time.sleep(self.BATCH_S)
            batch = [first]
            while batch[-1] is not None and not lines.empty():
                batch.append(lines.get_nowait())
            done = batch[-1] is None
            self._write([r for r in batch if r is not None])
            if done:
                return

    def _write(self, records: list[logging.LogRecord]) -> None:
        target = self.target
        stream = getattr(target, "stream", None)
        if not isinstance(target, logging.StreamHandler) or stream is None:
            for record in records:
                self._write_one(record)
            return
        text = []
        for record in records:
            try:
                if target.filter(record):
                    text.append(target.format(record) + target.terminator)
            except Exception:  # noqa: BLE001 - a record that cannot be written must not stop the others
                target.handleError(record)
        if not text:
            return
        with target.lock:
            try:
                stream.write("".join(text))
                target.flush()
            except Exception:  # noqa: BLE001
                target.handleError(records[-1])

    def _write_one(self, record: logging.LogRecord) -> None:
        try:
            self.target.handle(record)
        except Exception:  # noqa: BLE001 - a record that cannot be written must not stop the others
            self.target.handleError(record)

    def drain(self, timeout_s: float = 2.0) -> None:
        """Write what is queued (at exit, and before reading the stream in a test)."""
        writer = self._writer
        if writer is None or self._pid != os.getpid() or not writer.is_alive():
            return
        self._queue.put(None)
        writer.join(timeout_s)
        self._writer, self._pid = None, -1  # the next record starts a writer again

    def flush(self) -> None:
        self.target.flush()


class _RequestIds:
    """Request ids without a system call each: 16 random hex digits drawn once per process (again in each
    forked worker), then a counter; 32 hex digits in all, as uuid4().hex was."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.prefix = os.urandom(8).hex()
        self.counter = itertools.count()

    def new(self) -> str:
        return f"{self.prefix}{next(self.counter):016x}"


_request_ids = _RequestIds()
new_request_id = _request_ids.new
_handlers: weakref.WeakSet[BackgroundHandler] = weakref.WeakSet()


def _after_fork() -> None:
    """A forked worker draws its own request ids and starts its own log writer."""
    _request_ids.reset()
    for handler in list(_handlers):
        handler._forked()


os.register_at_fork(after_in_child=_after_fork)


def level_from_env(environ: Mapping[str, str] | None = None) -> int:
    """`LOG_LEVEL` (debug, info, warning, error, critical; any case) as a logging level; INFO when unset or
    unknown, as gunicorn reads the same variable (bot/gunicorn_conf.py), so both follow one setting."""
    raw = (os.environ if environ is None else environ).get("LOG_LEVEL", "").strip().upper()
    return _LEVELS.get(raw, logging.INFO)


def configure(level: int | None = None) -> None:
    """JSON lines on stderr, once per process; leaves handlers others installed (pytest's) alone.

    The level is `LOG_LEVEL`'s unless given. The SDK's logger stays at WARNING whatever it is."""
    root = logging.getLogger()
    if any(getattr(h, "_approval_bot", False) for h in root.handlers):
        return
    if level is None:
        level = level_from_env()
    stream = logging.StreamHandler()
    stream.setFormatter(JsonFormatter())
    handler = BackgroundHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler._approval_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(level)
    logging.getLogger("Lark").setLevel(logging.WARNING)  # the SDK logs bodies and card tokens at DEBUG
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
