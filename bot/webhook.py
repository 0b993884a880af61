"""POST /webhook/event and POST /webhook/card: verify → challenge → route → claim → handle → answer.

Bad input gets a fixed 4xx body (never exception text); a genuine event is handled once: the claim on its
event id is a lease, so a delivery that dies mid-way is processed again when Feishu re-delivers it, while a
delivery that finds the lease still held answers 503 (Feishu retries) instead of a 200 that would drop it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request

import cards
from bot import metrics
from bot.dispatch import Context
from bot.inbound import CardClick
from bot.rules import Actor
from bot.security import LegacyCard, Rejected, open_event, open_legacy_card
from bot.store import ClaimResult
from handlers.events import Answer, answer_click

log = logging.getLogger(__name__)
bp = Blueprint("webhook", __name__)

BODY_DEADLINE_S = 2.0  # Feishu sends a few KB at once; only a slow or hostile client needs longer
WRITE_TIMEOUT_S = 10.0
CLAIM_LEASE_S = 10.0  # shorter than Feishu's first retry (15 s), longer than the 3 s answer budget
_FIXED = {
    400: {"code": 400, "msg": "bad request"},
    401: {"code": 401, "msg": "unauthorized"},
    503: {"code": 503, "msg": "busy, retry later"},
}
_ignored_types: set[str] = set()


def read_body() -> bytes:
    """The raw body, at most 1 MiB (413 beyond), within BODY_DEADLINE_S in all (408 beyond).

    Under gunicorn each connection owns a thread while its body arrives: a client trickling bytes must not
    hold it for long, so every read gets a socket timeout of the time left, not just an idle timeout.
    """
    deadline = time.monotonic() + BODY_DEADLINE_S
    sock = request.environ.get("gunicorn.socket")
    stream = request.stream  # werkzeug enforces MAX_CONTENT_LENGTH here, for chunked bodies too
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
        envelope = open_event(body, request.headers, services.keys, services.clock())
    except Rejected as rejected:
        return _refuse(rejected)
    if envelope.kind == "challenge":
        return jsonify({"challenge": envelope.challenge})
    g.event_id = envelope.event_id
    route = services.ctx.registry.events.get(envelope.event_type)
    if route is None:
        return _ignore(envelope.event_type)
    is_callback = envelope.event_type == "card.action.trigger"
    return _handle_once(
        services.ctx, f"evt:{envelope.event_id}" if route.dedup else "", envelope.event_type, started,
        lambda deadline: route.handler(services.ctx, envelope, deadline), is_callback,
    )


@bp.post("/webhook/card")
def receive_legacy_card() -> Response:
    services = _services()
    started = time.monotonic()
    body = read_body()
    try:
        card = open_legacy_card(body, request.headers, services.keys, services.clock())
    except Rejected as rejected:
        return _refuse(rejected)
    if card.kind == "challenge":
        return jsonify({"challenge": card.challenge})
    click = legacy_click(card)
    if click is None:
        metrics.REJECTED.labels("missing_fields").inc()
        return fixed(400)
    return _handle_once(
        services.ctx, card.replay_key, "card.action.trigger_v1", started,
        lambda deadline: answer_click(services.ctx, click, deadline), True,
    )


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


def _ignore(event_type: str) -> Response:
    metrics.IGNORED.labels(event_type[:64]).inc()
    if event_type not in _ignored_types and len(_ignored_types) < 1000:
        _ignored_types.add(event_type)
        log.info("ignoring event type %s (logged once)", event_type[:64])
    return jsonify({})


def _handle_once(
    ctx: Context, key: str, event_type: str, started: float, handle: Callable[[float], Answer], is_callback: bool
) -> Response:
    """Claim `key` (none: the handler dedups itself), handle within the budget, answer."""
    if not key:
        return _handle(ctx, key, event_type, started, handle, is_callback)
    claim = ctx.store.claim(key, CLAIM_LEASE_S, ctx.clock())
    if claim is ClaimResult.DONE:
        metrics.DEDUP_HITS.inc()
        metrics.EVENTS.labels(event_type, "duplicate").inc()
        return jsonify({})
    if claim is ClaimResult.BUSY:
        metrics.EVENTS.labels(event_type, "in_progress").inc()
        return fixed(503)
    return _handle(ctx, key, event_type, started, handle, is_callback)


def _handle(
    ctx: Context, key: str, event_type: str, started: float, handle: Callable[[float], Answer], is_callback: bool
) -> Response:
    deadline = started + ctx.config.answer_budget_s
    try:
        answer = handle(deadline)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # A verified body whose event we cannot read: retrying will not help.
        if key:
            ctx.store.finish(key, ctx.clock())
        metrics.EVENTS.labels(event_type, "unreadable").inc()
        log.warning("unreadable %s event: %s", event_type, type(exc).__name__)
        return fixed(400)
    except Exception as exc:
        if key:
            ctx.store.release(key)
        ref = uuid.uuid4().hex[:12]
        metrics.EVENTS.labels(event_type, "error").inc()
        log.error("handler failed: %s ref=%s", type(exc).__name__, ref, exc_info=True)
        if is_callback:  # Feishu does not retry callbacks: tell the person instead
            text = cards.text("error.internal", ctx.locale, ref=ref)
            return jsonify({"toast": {"type": "error", "content": text}})
        return fixed(503)
    if key:
        _finish_claim(ctx, key, answer)
    metrics.EVENTS.labels(event_type, "handled" if answer.work is None else "handed_off").inc()
    response = jsonify(answer.body)
    response.status_code = answer.status
    if answer.after_response is not None:
        response.call_on_close(answer.after_response)
    return response


def _finish_claim(ctx: Context, key: str, answer: Answer) -> None:
    if answer.work is None:
        ctx.store.finish(key, ctx.clock())
        return

    def done(future: Any) -> None:
        if future.exception() is None:
            ctx.store.finish(key, ctx.clock())
        else:
            ctx.store.release(key)

    answer.work.add_done_callback(done)

