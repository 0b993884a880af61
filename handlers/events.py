"""Event handlers: a message to the bot, a card click, an approval that changed elsewhere.

Each returns the HTTP answer (`Answer`); the webhook view owns verification, dedup and the time budget.
`deadline` is a `time.monotonic()` instant by which the answer must be on its way.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

import cards
from bot.approvals import InstanceFormatError, from_instance
from bot.dispatch import ClickCall, CommandCall, Context, Reply, Toast
from bot.feishu import FeishuError, parse_card_action, parse_message
from bot.inbound import CardClick, MessageIn, command_text, parse_command
from bot.rules import InstanceStatus
from bot.security import Envelope
from bot.store import ClaimResult
from handlers import acting, views

log = logging.getLogger(__name__)
LATE_UPDATE_WAIT_S = 5.0
MESSAGE_LEASE_S = 10.0  # shorter than Feishu's first retry (15 s), longer than the 3 s answer budget


@dataclass
class Answer:
    body: dict[str, Any]
    status: int = 200
    after_response: Callable[[], None] | None = None  # run once the answer has been sent
    work: Future | None = None  # work that outlived the answer; the caller finishes the claim when it ends


# -- messages -----------------------------------------------------------------------------------------------


def on_message(ctx: Context, envelope: Envelope, deadline: float) -> Answer:
    message = parse_message(envelope.payload, envelope.event_id)
    if message.sender_type != "user" or not message.sender.ids():
        return Answer({})  # other apps and the bot itself: never answer (no loops)
    text = command_text(message, ctx.feishu.bot_open_id())
    if text is None:
        return Answer({})  # a group message that does not mention the bot
    # One message acts once, whether re-delivered or delivered under two event ids (v1 + v2 subscriptions).
    key = f"msg:{message.message_id}"
    claim = ctx.store.claim(key, MESSAGE_LEASE_S, ctx.clock())
    if claim is ClaimResult.DONE:
        return Answer({})
    if claim is ClaimResult.BUSY:  # another delivery is at work, or died: let Feishu retry rather than drop it
        return Answer({"code": 503, "msg": "busy, retry later"}, status=503)
    future = ctx.pool.submit(_answer_message, ctx, message, text, key)
    return _within(future, deadline, Answer({}))


def _answer_message(ctx: Context, message: MessageIn, text: str, claim_key: str) -> None:
    try:
        reply = _run_command(ctx, message, text)
        if reply.card is not None:
            sent = ctx.feishu.reply_card(message.message_id, reply.card, uuid=f"r-{message.message_id}")
            if reply.approval_id and sent:
                ctx.store.remember_card(reply.approval_id, sent, ctx.clock())
        ctx.store.finish(claim_key, ctx.clock())
    except FeishuError as err:
        log.warning("reply failed: message=%s code=%s log_id=%s", message.message_id, err.code, err.log_id)
        ctx.store.finish(claim_key, ctx.clock())
    except Exception:
        ctx.store.release(claim_key)
        raise


def _run_command(ctx: Context, message: MessageIn, text: str) -> Reply:
    line = parse_command(text)
    if line is None or not line.known:
        notice = None
        if line is not None and line.name:
            notice = cards.text("reply.unknown_command", ctx.locale, command=line.name)
        return Reply(card=views.help_card(ctx, notice=notice))
    command = ctx.registry.command(line.name)
    if command is None:
        return Reply(card=views.help_card(ctx))
    return command.handler(ctx, CommandCall(line.name, line.args, message.sender, message))


# -- card clicks ------------------------------------------------------------------------------------------------


def on_card_action(ctx: Context, envelope: Envelope, deadline: float) -> Answer:
    click = parse_card_action(envelope.payload, envelope.event_id)
    return answer_click(ctx, click, deadline)


def answer_click(ctx: Context, click: CardClick, deadline: float) -> Answer:
    """Shared by the new callback and the legacy one: act, then answer with a toast and the new card."""
    name = click.value.get("action") if isinstance(click.value, dict) else None
    handler = ctx.registry.actions.get(name) if isinstance(name, str) else None
    if handler is None:
        return Answer(_callback_body(ctx, Reply(toast=_toast(ctx, "error", "toast.unknown_action")), click))
    if click.value.get("v") != cards.CARD_VERSION:
        return Answer(_callback_body(ctx, _stale(ctx, click), click))
    future = ctx.pool.submit(handler, ctx, ClickCall(click, click.operator))
    try:
        reply = future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        sent = threading.Event()
        future.add_done_callback(lambda f: ctx.pool.submit(_finish_late, ctx, f, click, sent))
        processing = Reply(toast=_toast(ctx, "info", "toast.processing"))
        return Answer(_callback_body(ctx, processing, click), after_response=sent.set)
    return Answer(_callback_body(ctx, reply, click))


def _stale(ctx: Context, click: CardClick) -> Reply:
    """A card from an older bot version: show the current one instead of acting on it."""
    approval_id = str(click.value.get("approval_id") or "")
    toast = _toast(ctx, "warning", "toast.stale_card")
    try:
        approval = from_instance(ctx.feishu.get_instance(approval_id), approval_id, ctx.config.attendance_id_field)
    except (FeishuError, InstanceFormatError):
        return Reply(toast=toast)
    return Reply(card=views.current_card(ctx, approval), toast=toast)


def _finish_late(ctx: Context, future: Future, click: CardClick, sent: threading.Event) -> None:
    """The action outlived the answer: update the card once the answer is out (the token demands that order)."""
    sent.wait(LATE_UPDATE_WAIT_S)
    try:
        reply = future.result()
    except Exception:
        log.exception("card action failed after the answer")
        return
    if reply.card is None:
        return
    try:
        if click.token and not click.legacy:
            ctx.feishu.delayed_update(click.token, reply.card)
        elif click.message_id:
            ctx.feishu.patch_card(click.message_id, reply.card)
    except FeishuError as err:
        log.warning("late card update failed: code=%s log_id=%s", err.code, err.log_id)


def _toast(ctx: Context, kind: str, key: str) -> Toast:
    return Toast(kind, cards.text(key, ctx.locale))


def _callback_body(ctx: Context, reply: Reply, click: CardClick) -> dict[str, Any]:
    if click.legacy:  # the legacy callback answers with the card itself
        return dict(reply.card) if reply.card is not None else {}
    body: dict[str, Any] = {}
    if reply.toast is not None:
        body["toast"] = {"type": reply.toast.kind, "content": reply.toast.text}
    if reply.card is not None:
        body["card"] = {"type": "raw", "data": reply.card}
    return body


# -- approval changed elsewhere ----------------------------------------------------------------------------------


def on_approval_changed(ctx: Context, envelope: Envelope, deadline: float) -> Answer:
    event = envelope.payload.get("event") if isinstance(envelope.payload.get("event"), dict) else {}
    instance_code = str(event.get("instance_code") or "")
    if not instance_code:
        return Answer({})
    future = ctx.pool.submit(refresh_approval, ctx, instance_code)
    return _within(future, deadline, Answer({}))


def refresh_approval(ctx: Context, instance_code: str) -> None:
    """Update every card already sent for this approval; push a card to approvers who now have a task."""
    try:
        approval = from_instance(ctx.feishu.get_instance(instance_code), instance_code,
                                 ctx.config.attendance_id_field)
    except (FeishuError, InstanceFormatError) as err:
        log.warning("approval refresh failed: instance=%s error=%s", instance_code, type(err).__name__)
        return
    card = views.current_card(ctx, approval)
    acting.update_other_cards(ctx, instance_code, card)
    if approval.status is not InstanceStatus.PENDING:
        return
    views.remember_approvers(ctx, approval)
    for task in approval.tasks:
        if task.status.upper() != "PENDING" or not task.open_id:
            continue
        try:
            sent = ctx.feishu.send_card(task.open_id, card, "open_id", uuid=f"n-{task.id or instance_code}")
        except FeishuError as err:
            log.warning("notification failed: instance=%s code=%s", instance_code, err.code)
            continue
        if sent:
            ctx.store.remember_card(instance_code, sent, ctx.clock())


def _within(future: Future, deadline: float, answer: Answer) -> Answer:
    """Wait for the work up to the deadline; past it, answer anyway and let the work finish in the pool."""
    try:
        future.result(timeout=max(0.0, deadline - time.monotonic()))
    except FutureTimeout:
        answer.work = future
    return answer
