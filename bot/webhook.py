"""POST /webhook/event and POST /webhook/card: read the body → verify → parse → dispatch → HTTP answer.

A thin adapter over the one pipeline (`handlers.pipeline.dispatch`); the long connection is another one.
What is about HTTP lives here: body limits and deadlines, fixed 4xx bodies for what fails verification, and
the status an answer's outcome maps to (docs/architecture.md, "Answers").
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

from bot import metrics
from bot.delivery import deliver, dispatch_counted
from bot.security import (
    NONCE_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    LegacyCard,
    Rejected,
    open_event,
    open_legacy_card,
)
from core.inbound import CardClick
from core.rules import Actor

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

BODY_DEADLINE_S = 2.0  # Feishu sends a few KB at once; only a slow or hostile client needs longer
WRITE_TIMEOUT_S = 10.0
# Set in the WSGI environ by bot/serving.py's worker: the whole request was read before a thread got it.
BUFFERED_KEY = "approval_bot.buffered"
_SIGNED_ENVIRON = tuple((name, "HTTP_" + name.upper().replace("-", "_"))
                        for name in (TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER))
_FIXED = {
    400: {"code": 400, "msg": "bad request"},
    401: {"code": 401, "msg": "unauthorized"},
    503: {"code": 503, "msg": "busy, retry later"},
}


def read_body() -> bytes:
    """The raw body, at most 1 MiB (413 beyond), within BODY_DEADLINE_S in all (408 beyond).

    Under a server that hands a connection to a thread before its body arrived, a client trickling bytes must
    not hold that thread for long, so every read gets a socket timeout of the time left, not just an idle
    timeout. The Procfile's worker reads the whole request first (docs/serving.md): then there is no socket
    to wait on, and the body is read from memory at once.
    """
    stream = request.stream  # werkzeug enforces MAX_CONTENT_LENGTH here, for chunked bodies too
    if request.environ.get(BUFFERED_KEY):
        return stream.read()
    deadline = time.monotonic() + BODY_DEADLINE_S
    sock = request.environ.get("gunicorn.socket")
    chunks: list[bytes] = []
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if sock is not None:
                sock.settimeout(left)
            chunk = stream.read(64 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
    except (TimeoutError, OSError):
        metrics.REJECTED.labels("slow_body").inc()
        abort(408)
    finally:
        if sock is not None:
            sock.settimeout(WRITE_TIMEOUT_S)
    return b"".join(chunks)


def signed_headers(environ: dict[str, Any]) -> dict[str, str]:
    """The signature's three headers, straight from the WSGI environ: the same single value each that
    werkzeug's header view would give (a server joins a repeated header into one), without building it."""
    return {name: environ[key] for name, key in _SIGNED_ENVIRON if key in environ}


def _services() -> Any:
    return current_app.extensions["approval_bot"]


def fixed(status: int) -> Response:
    response = jsonify(_FIXED[status])
    response.status_code = status
    return response


def _refuse(rejected: Rejected) -> Response:
    metrics.REJECTED.labels(rejected.reason).inc()
    log.info("webhook refused: %s", rejected.reason)
    return fixed(rejected.status if rejected.status in _FIXED else 400)


@bp.post("/webhook/event")
def receive_event() -> Response:
    services = _services()
    started = time.monotonic()
    body = read_body()
    try:
        envelope = open_event(body, signed_headers(request.environ), services.keys, services.clock())
    except Rejected as rejected:
        return _refuse(rejected)
    if envelope.kind == "challenge":
        return jsonify({"challenge": envelope.challenge})
    g.event_id = envelope.event_id
    deadline = started + services.ctx.config.answer_budget_s
    status, answer = deliver(services.dispatch, envelope.event_type, envelope.event_id, envelope.payload, deadline)
    return _respond(status, answer)


@bp.post("/webhook/card")
def receive_legacy_card() -> Response:
    services = _services()
    started = time.monotonic()
    body = read_body()
    try:
        card = open_legacy_card(body, signed_headers(request.environ), services.keys, services.clock())
    except Rejected as rejected:
        return _refuse(rejected)
    if card.kind == "challenge":
        return jsonify({"challenge": card.challenge})
    click = legacy_click(card)
    if click is None:
        metrics.REJECTED.labels("missing_fields").inc()
        return fixed(400)
    return _respond(*dispatch_counted(services.dispatch, click, started + services.ctx.config.answer_budget_s))


def legacy_click(card: LegacyCard) -> CardClick | None:
    payload = card.payload
    action = payload.get("action")
    value = action.get("value") if isinstance(action, dict) else None
    open_id = payload.get("open_id")
    if not isinstance(value, dict) or not isinstance(open_id, str) or not open_id:
        return None
    form_value = action.get("form_value")
    return CardClick(
        event_id=card.replay_key,
        operator=Actor(open_id=open_id, user_id=str(payload.get("user_id") or "")),
        value=value,
        form_value=form_value if isinstance(form_value, dict) else {},
        message_id=str(payload.get("open_message_id") or ""),
        chat_id=str(payload.get("open_chat_id") or ""),
        token=str(payload.get("token") or ""),
        legacy=True,
    )


def _respond(status: int, answer: Any) -> Response:
    response = jsonify(answer.body) if status < 400 else fixed(status)
    response.status_code = status
    if answer.after_response is not None:
        response.call_on_close(answer.after_response)
    return response
