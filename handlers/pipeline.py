"""The one pipeline: `dispatch(ctx, inbound, deadline) -> Answer`, for the webhook and the long connection alike.

    route by event type → claim (one lease per delivery) → run the handler in the pool within the budget
    → answer; work that outlives the budget goes on in the pool and reaches the person by card update.

Claims are leases in the store (docs/architecture.md, "Exactly once"): a delivery that dies mid-way is handled
again when Feishu re-delivers it, while one that finds the lease held is answered `busy` (events: Feishu
retries; callbacks, which Feishu never re-sends: a toast). Messages are claimed by message id, and only when
the bot answers them, so that a message delivered under two event ids acts once and chatter costs no write.
Answers carry an `outcome`, never an HTTP status: the adapters (bot/webhook.py) map it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import cards
from core.errors import FeishuError
from core.inbound import CardClick, Inbound, MessageIn, OtherEvent, Unreadable, command_text
from core.outcome import Reply, Toast
from core.records import ClaimResult
from handlers import copies
from handlers.context import Context
from handlers.registry import EventRoute

log = logging.getLogger(__name__)

CLAIM_LEASE_S = 10.0  # shorter than Feishu's first retry (15 s), longer than the 3 s answer budget
LATE_UPDATE_WAIT_S = 5.0  # a late card update waits this long for the answer to be on its way
_ignored_types: set[str] = set()


@dataclass
class Answer:
    """What to answer Feishu: a JSON body and what came of the delivery (the adapter's status and metrics)."""

    body: dict[str, Any]
    outcome: str  # handled | handed_off | silent | duplicate | busy | ignored | unreadable | error
    callback: bool = False  # a card callback: always answered 200, with a toast
    after_response: Callable[[], None] | None = field(default=None, repr=False)  # call once the answer is out


def dispatch(ctx: Context, inbound: Inbound, deadline: float) -> Answer:
    """Handle one verified delivery at most once; answer by `deadline` (a `time.monotonic()` instant)."""
    answer = _dispatch(ctx, inbound, deadline)
    if answer.outcome not in ("handled", "handed_off", "error"):  # nothing runs on: settled now
        ctx.on_settled(inbound.event_id, answer.outcome)
    return answer


def _dispatch(ctx: Context, inbound: Inbound, deadline: float) -> Answer:
    callback = isinstance(inbound, CardClick) or (isinstance(inbound, Unreadable) and inbound.callback)
    route = ctx.registry.events.get(inbound.event_type)
    if isinstance(inbound, OtherEvent) or route is None:
        return _ignored(inbound.event_type, callback)
    if isinstance(inbound, Unreadable):
        log.warning("unreadable %s event", inbound.event_type[:64])
        return _answer(ctx, Reply(toast=_toast(ctx, "error", "toast.unreadable")), "unreadable", inbound)
    key = claim_key(ctx, inbound)
    if key is None:
        return Answer({}, "silent")
    claim = ctx.store.claim(key, CLAIM_LEASE_S, ctx.clock())
    if claim is ClaimResult.DONE:
        return Answer({}, "duplicate", callback)
    if claim is ClaimResult.BUSY:
        return _answer(ctx, Reply(toast=_toast(ctx, "info", "toast.busy")), "busy", inbound)
    future = ctx.pool.submit(_run, ctx, route, inbound, key)
    try:
        reply = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return _handed_off(ctx, future, inbound)
    except Exception:
        ref = uuid.uuid4().hex[:12]
        log.error("handler failed: %s ref=%s", inbound.event_type[:64], ref, exc_info=True)
        return _answer(ctx, Reply(toast=_toast(ctx, "error", "error.internal", ref=ref)), "error", inbound)
    return _answer(ctx, reply, "handled", inbound)


def claim_key(ctx: Context, inbound: Inbound) -> str | None:
    """The lease this delivery takes, or None when the bot has nothing to do (and so writes nothing)."""
    if isinstance(inbound, MessageIn):
        if inbound.sender_type != "user" or not inbound.sender.ids():
            return None  # other apps and the bot itself: never answer (no loops)
        if command_text(inbound, ctx.feishu.bot_open_id()) is None:
            return None  # a group message that does not mention the bot
        return f"msg:{inbound.message_id}" if inbound.message_id else None
    if isinstance(inbound, CardClick) and inbound.legacy:
        return inbound.event_id  # the legacy callback's nonce + timestamp replay key
    return f"evt:{inbound.event_id}"


def _run(ctx: Context, route: EventRoute, inbound: Inbound, key: str) -> Reply | None:
    """The handler, then (messages) the reply; the claim is settled before the answer goes out."""
    try:
        reply = route.handler(ctx, inbound)
        if route.kind == "message" and reply is not None:
            _deliver(ctx, inbound, reply)
    except BaseException:
        ctx.store.release(key)  # let Feishu's re-delivery try again
        ctx.on_settled(inbound.event_id, "error")
        raise
    ctx.store.finish(key, ctx.clock())
    ctx.on_settled(inbound.event_id, "handled")
    return reply


def _deliver(ctx: Context, message: Any, reply: Reply) -> None:
    if reply.card is None:
        return
    try:
        sent = ctx.feishu.reply_card(message.message_id, reply.card, uuid=f"r-{message.message_id}")
    except FeishuError as err:
        log.warning("reply failed: message=%s code=%s log_id=%s", message.message_id, err.code, err.log_id)
        return
    copies.remember_sent(ctx, reply, sent)


def _handed_off(ctx: Context, future: Future, inbound: Inbound) -> Answer:
    if not isinstance(inbound, CardClick):
        return Answer({}, "handed_off")
    sent = threading.Event()  # a delayed update is refused before the callback's answer arrived
    future.add_done_callback(lambda f: ctx.pool.submit(_finish_late, ctx, f, inbound, sent))
    answer = _answer(ctx, Reply(toast=_toast(ctx, "info", "toast.processing")), "handed_off", inbound)
    answer.after_response = sent.set
    return answer


def _finish_late(ctx: Context, future: Future, click: CardClick, sent: threading.Event) -> None:
    """The action outlived the answer: update the clicked card once the answer is out."""
    sent.wait(LATE_UPDATE_WAIT_S)
    try:
        reply = future.result()
    except Exception:
        log.exception("card action failed after the answer")
        return
    if reply is None or reply.card is None:
        return
    try:
        if click.token and not click.legacy:
            ctx.feishu.delayed_update(click.token, reply.card)
        elif click.message_id:
            ctx.feishu.patch_card(click.message_id, reply.card)
    except FeishuError as err:
        log.warning("late card update failed: code=%s log_id=%s", err.code, err.log_id)


def _answer(ctx: Context, reply: Reply | None, outcome: str, inbound: Inbound) -> Answer:
    if isinstance(inbound, CardClick):
        return Answer(callback_body(reply, legacy=inbound.legacy), outcome, True)
    if isinstance(inbound, Unreadable) and inbound.callback:
        return Answer(callback_body(reply), outcome, True)
    return Answer({}, outcome)


def callback_body(reply: Reply | None, *, legacy: bool = False) -> dict[str, Any]:
    """The answer to a card callback: a toast and the new card (the legacy callback answers with the card)."""
    if reply is None:
        return {}
    if legacy:
        return dict(reply.card) if reply.card is not None else {}
    body: dict[str, Any] = {}
    if reply.toast is not None:
        body["toast"] = {"type": reply.toast.kind, "content": reply.toast.text}
        if reply.toast.i18n:  # the callback page's toast.i18n: each reader's client shows its own language
            body["toast"]["i18n"] = dict(reply.toast.i18n)
    if reply.card is not None:
        body["card"] = {"type": "raw", "data": reply.card}
    return body


def _ignored(event_type: str, callback: bool) -> Answer:
    if event_type not in _ignored_types and len(_ignored_types) < 1000:
        _ignored_types.add(event_type)
        log.info("ignoring event type %s (logged once)", event_type[:64])
    return Answer({}, "ignored", callback)


def _toast(ctx: Context, kind: str, key: str, **params: Any) -> Toast:
    texts = cards.toast(key, ctx.locale, **params)
    return Toast(kind, texts["content"], texts["i18n"])
