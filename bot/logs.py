"""Structured logs: one JSON object per line, with the request id; no secrets or message text."""

from __future__ import annotations

import json
import logging
import os
import time
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


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
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
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    handler._approval_bot = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    if root.level == logging.WARNING or root.level == logging.NOTSET:
        root.setLevel(level)
    logging.getLogger("Lark").setLevel(logging.WARNING)  # the SDK logs bodies and card tokens at DEBUG
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
