"""The one pipeline: `dispatch(ctx, inbound, deadline) -> Answer`, for the webhook and the long connection alike.

    route by event type → claim (one lease per delivery) → run the handler in the pool within the budget
    → answer; work that outlives the budget goes on in the pool and reaches the person by card update.

Claims are leases in the store (docs/architecture.md, "Exactly once"): a delivery that dies mid-way is handled
again when Feishu re-delivers it, while one that finds the lease held is answered `busy` (events: Feishu
retries; callbacks, which Feishu never re-sends: a toast). Messages are claimed by message id, and only when
the bot answers them, so that a message delivered under two event ids acts once and chatter costs no write.
Answers carry an `outcome`, never an HTTP status: the adapters (bot/webhook.py) map it.

A store that cannot be written answers `unavailable` (events: Feishu retries; callbacks: a toast saying nothing
was recorded), never a crash. A message is marked handled only once the person was told: a reply that cannot be
sent is retried with back-off, then sent as a new message in the chat; when neither works the claim is released,
so that Feishu's re-delivery tries again (acting twice is prevented by the workflow's "already done" path).
"""

from __future__ import annotations

import dataclasses
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
from core.errors import FeishuError, StoreUnavailable
from core.inbound import (
    CardClick,
    Inbound,
    MessageIn,
    OtherEvent,
    Unreadable,
    command_text,
    mentions_nobody_in_group,
)
from core.outcome import Reply, Toast
from core.records import ClaimResult
from handlers import copies
from handlers.context import Context, Delivery
from handlers.registry import EventRoute

log = logging.getLogger(__name__)

CLAIM_LEASE_S = 10.0  # shorter than Feishu's first retry (15 s), longer than the 3 s answer budget
LATE_UPDATE_WAIT_S = 5.0  # a late card update waits this long for the answer to be on its way
# Telling the person: pauses between attempts (the injected `ctx.sleep`), none ending later than TELL_WINDOW_S
# after the claim, well before its lease ends (a re-delivery must not take over a delivery still trying). When
# Feishu fails fast, the pauses (2.2 s in all) fit the answer budget: an event nobody was told about gets 503.
REPLY_PAUSES_S = (0.2, 0.5, 1.0)
FALLBACK_PAUSES_S = (0.5,)
TELL_WINDOW_S = 7.0  # inside CLAIM_LEASE_S, with room for the last call (a reply times out after 2 s)
# A callback token updates a card twice at most (docs/feishu.md): one retry, then PATCH of the message.
LATE_UPDATE_PAUSES_S = (1.0,)
PATCH_PAUSES_S = (1.0, 2.0)
_ignored_types: set[str] = set()


class NotTold(Exception):
    """Neither the reply nor the fallback message reached the person: the delivery is not handled."""


@dataclass
class Answer:
    """What to answer Feishu: a JSON body and what came of the delivery (the adapter's status and metrics)."""

    body: dict[str, Any]
    outcome: str  # handled | handed_off | silent | duplicate | busy | ignored | unreadable | unavailable | error
    callback: bool = False  # a card callback: always answered 200, with a toast
    after_response: Callable[[], None] | None = field(default=None, repr=False)  # call once the answer is out


def dispatch(ctx: Context, inbound: Inbound, deadline: float) -> Answer:
    """Handle one verified delivery at most once; answer by `deadline` (a `time.monotonic()` instant)."""
    answer = settle_without_work(ctx, inbound)
    if answer is not None:
        return answer
    answer = _dispatch(ctx, inbound, deadline)
    if answer.outcome not in ("handled", "handed_off", "error"):  # nothing runs on: settled now
        ctx.on_settled(inbound.event_id, answer.outcome)
    return answer


def settle_without_work(ctx: Context, inbound: Inbound) -> Answer | None:
    """The answer to a delivery that needs no work, decided from the inbound value alone: a type the bot does
    not read (`ignored`), a message it stays silent on whatever it says (`silent`: from an app or a bot, or a
    group message that mentions nobody). No store, no Feishu call, no pool: cheap enough for the long
    connection's event loop (bot/longconn.py). None when the delivery may need work: `dispatch` then decides."""
    route = ctx.registry.events.get(inbound.event_type)
    if isinstance(inbound, OtherEvent) or route is None:
        answer = _ignored(inbound.event_type, _is_callback(inbound))
    elif isinstance(inbound, MessageIn) and _silent_at_once(inbound):
        answer = Answer({}, "silent")
    else:
        return None
    ctx.on_settled(inbound.event_id, answer.outcome)
    return answer


def _is_callback(inbound: Inbound) -> bool:
    return isinstance(inbound, CardClick) or (isinstance(inbound, Unreadable) and inbound.callback)


def _silent_at_once(message: MessageIn) -> bool:
    # other apps and the bot itself are never answered (no loops); a group message that mentions nobody neither
    return message.sender_type != "user" or not message.sender.ids() or mentions_nobody_in_group(message)


def _dispatch(ctx: Context, inbound: Inbound, deadline: float) -> Answer:
    callback = _is_callback(inbound)
    route = ctx.registry.events[inbound.event_type]  # settle_without_work answered types without a route
    if isinstance(inbound, Unreadable):
        log.warning("unreadable %s event", inbound.event_type[:64])
        return _answer(ctx, Reply(toast=_toast(ctx, "error", "toast.unreadable")), "unreadable", inbound)
    key = claim_key(ctx, inbound)
    if key is None:
        return Answer({}, "silent")
    delivery = None
    try:
        if isinstance(inbound, CardClick):  # the clicked copy's view comes with the claim (one round trip)
            claim, view = ctx.store.claim_click(key, CLAIM_LEASE_S, ctx.clock(), inbound.message_id)
            delivery = Delivery(key, inbound.message_id, view)
        else:
            claim = ctx.store.claim(key, CLAIM_LEASE_S, ctx.clock())
    except StoreUnavailable as err:
        return _unavailable(ctx, inbound, err)
    if claim is ClaimResult.DONE:
        return Answer({}, "duplicate", callback)
    if claim is ClaimResult.BUSY:
        return _answer(ctx, Reply(toast=_toast(ctx, "info", "toast.busy")), "busy", inbound)
    job = dataclasses.replace(ctx, delivery=delivery) if delivery is not None else ctx
    future = ctx.pool.submit(_run, job, route, inbound, key, time.monotonic())
    try:
        reply = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        return _handed_off(ctx, future, inbound)
    except StoreUnavailable as err:
        return _unavailable(ctx, inbound, err)
    except NotTold:
        return _answer(ctx, None, "error", inbound)  # events: 503, so Feishu delivers it again
    except Exception:
        ref = uuid.uuid4().hex[:12]
        log.error("handler failed: %s ref=%s", inbound.event_type[:64], ref, exc_info=True)
        return _answer(ctx, Reply(toast=_toast(ctx, "error", "error.internal", ref=ref)), "error", inbound)
    return _answer(ctx, reply, "handled", inbound)


def claim_key(ctx: Context, inbound: Inbound) -> str | None:
    """The lease this delivery takes, or None when the bot has nothing to do (and so writes nothing)."""
    if isinstance(inbound, MessageIn):
        if _silent_at_once(inbound) or command_text(inbound, ctx.feishu.bot_open_id) is None:
            return None  # a group message that does not mention the bot
        return f"msg:{inbound.message_id}" if inbound.message_id else None
    if isinstance(inbound, CardClick) and inbound.legacy:
        return inbound.event_id  # the legacy callback's nonce + timestamp replay key
    return f"evt:{inbound.event_id}"


def _run(ctx: Context, route: EventRoute, inbound: Inbound, key: str, claimed: float) -> Reply | None:
    """The handler, then (messages) the reply; the claim is settled before the answer goes out."""
    try:
        reply = route.handler(ctx, inbound)
        if route.kind == "message" and reply is not None:
            _deliver(ctx, inbound, reply, claimed)
    except BaseException:
        _release(ctx, key)  # let Feishu's re-delivery try again
        ctx.on_settled(inbound.event_id, "error")
        raise
    if ctx.delivery is None or not ctx.delivery.settled:  # an action's last transaction may have done it
        _finish(ctx, key)
    ctx.on_settled(inbound.event_id, "handled")
    return reply


def _release(ctx: Context, key: str) -> None:
    try:
        ctx.store.release(key)
    except StoreUnavailable as err:  # the lease runs out by itself; the real failure must not be hidden
        log.warning("claim not released: store unavailable: %s", err.problem)


def _finish(ctx: Context, key: str) -> None:
    try:
        ctx.store.finish(key, ctx.clock())
    except StoreUnavailable as err:  # the work is done and told: a lost mark must not turn it into a failure
        log.warning("claim not finished: store unavailable: %s", err.problem)


def _unavailable(ctx: Context, inbound: Inbound, err: StoreUnavailable) -> Answer:
    log.warning("store unavailable: %s (%s not handled)", err.problem, inbound.event_type[:64])
    return _answer(ctx, Reply(toast=_toast(ctx, "error", "toast.store_unavailable")), "unavailable", inbound)


def _deliver(ctx: Context, message: MessageIn, reply: Reply, claimed: float) -> None:
    """Tell the person: the reply (retried), else a new message in the chat; NotTold when neither arrived."""
    if reply.card is None:
        return
    card = reply.card
    sent = _with_retries(ctx, "reply", message.message_id, claimed, REPLY_PAUSES_S,
                         lambda: ctx.feishu.reply_card(message.message_id, card, uuid=f"r-{message.message_id}"))
    if sent is None and message.chat_id:
        sent = _with_retries(ctx, "fallback message", message.chat_id, claimed, FALLBACK_PAUSES_S,
                             lambda: ctx.feishu.send_card(message.chat_id, card, "chat_id",
                                                          uuid=f"f-{message.message_id}"))
    if sent is None:
        log.warning("not told: message=%s; released for Feishu's re-delivery", message.message_id)
        raise NotTold(message.message_id)
    if sent:
        _remember_card(ctx, reply, sent)


def _remember_card(ctx: Context, reply: Reply, message_id: str) -> None:
    try:
        copies.remember_sent(ctx, reply, message_id)
    except StoreUnavailable as err:  # the person has the card; only later updates of this copy are lost
        log.warning("card not remembered: approval=%s store unavailable: %s", reply.approval_id, err.problem)


def _with_retries(ctx: Context, what: str, target: str, started: float, pauses: tuple[float, ...],
                  call: Callable[[], Any]) -> Any:
    """`call()`'s result, or None once it failed for good: a refusal, or a transient failure that persisted
    through `pauses` (no pause ends past TELL_WINDOW_S after `started`). Only calls safe to repeat come here."""
    for attempt, pause in enumerate((*pauses, None)):
        try:
            return call()
        except FeishuError as err:
            log.warning("%s failed: target=%s code=%s kind=%s log_id=%s attempt=%d", what, target[:64], err.code,
                        err.kind, err.log_id, attempt + 1)
            if pause is None or not _transient(err) or time.monotonic() - started + pause > TELL_WINDOW_S:
                return None
        ctx.sleep(pause)
    return None


def _transient(err: FeishuError) -> bool:
    """Worth trying again: no answer, a 5xx (with or without a Feishu code) or a rate limit."""
    return err.kind in {"timeout", "network", "server", "rate_limit"}


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
    except StoreUnavailable as err:
        log.warning("card action not recorded after the answer: store unavailable: %s", err.problem)
        return
    except Exception:
        log.exception("card action failed after the answer")
        return
    if reply is None or reply.card is None:
        return
    card, started = reply.card, time.monotonic()
    if click.token and not click.legacy:
        updated = _with_retries(ctx, "late card update", click.message_id or "?", started, LATE_UPDATE_PAUSES_S,
                                lambda: ctx.feishu.delayed_update(click.token, card) or True)
        if updated:
            return
    if click.message_id:  # the token is spent or refused: the message itself can still be updated
        _with_retries(ctx, "late card patch", click.message_id, started, PATCH_PAUSES_S,
                      lambda: ctx.feishu.patch_card(click.message_id, card) or True)


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
