"""The one mapping from what an action came to (`core.outcome.Outcome`) to what the person sees: a toast and
the card (the approval's new state, or the refusal or failure as a notice on it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cards
from cards.messages import refusal_message, user_message
from core.outcome import Outcome, Reply, Status, Toast
from handlers import card_context
from handlers.context import Context

_DONE_TEXT = {"approve": "toast.approved", "reject": "toast.rejected", "revoke": "toast.revoked"}


def outcome_text(ctx: Context, outcome: Outcome) -> str:
    if outcome.status is Status.DONE:
        return cards.text(_DONE_TEXT[outcome.action.value], ctx.locale)
    if outcome.status is Status.BUSY:
        return cards.text("toast.busy", ctx.locale)
    if outcome.status is Status.UNKNOWN:
        return cards.text("toast.checking", ctx.locale)
    if outcome.status is Status.ALREADY and outcome.previous is not None:
        previous = outcome.previous
        return cards.text("toast.already_done", ctx.locale, action=cards.text(f"action.{previous.action}", ctx.locale),
                          name=_name(ctx, previous.operator), time=_clock_text(ctx, previous.at))
    if outcome.refused is not None:
        return refusal_message(outcome.refused, ctx.locale)
    if outcome.error is not None:
        return user_message(outcome.error, ctx.locale)
    return cards.text("error.internal", ctx.locale, ref="")


def present(ctx: Context, outcome: Outcome, *, as_message: bool = False) -> Reply:
    """Toast and card; with `as_message` (a command's reply) a notice card stands in when there is no card."""
    text = outcome_text(ctx, outcome)
    card = _card(ctx, outcome, text)
    if card is None and as_message:
        tone = {"success": "success", "warning": "warning", "info": "info"}.get(outcome.toast_kind, "error")
        card = card_context.notice_card(ctx, text, tone=tone, log_id=outcome.log_id or None)
    approval_id = outcome.approval.instance_code if outcome.approval is not None else ""
    return Reply(card=card, toast=Toast(outcome.toast_kind, text), approval_id=approval_id)


def _card(ctx: Context, outcome: Outcome, text: str) -> dict[str, Any] | None:
    done = _decision(ctx, outcome)
    if outcome.approval is not None:
        if done is not None:
            return card_context.approval_card(ctx, outcome.approval, outcome=done)
        if outcome.status in (Status.REFUSED, Status.FAILED, Status.UNKNOWN):
            return card_context.approval_card(ctx, outcome.approval, notice=text)
        return None
    if outcome.attendance_only and outcome.status is not Status.BUSY:
        return cards.render("attendance_only", ctx.locale, approval_id=outcome.approval_id,
                            approval_type=outcome.approval_type or None, actions=(), outcome=done,
                            notice=None if done else text)
    return None


def _decision(ctx: Context, outcome: Outcome) -> dict[str, Any] | None:
    """"Approved by X at 10:02" for a card, when the bot made the approval's state."""
    if outcome.status is Status.ALREADY and outcome.previous is not None:
        previous = outcome.previous
        return {"action": previous.action, "operator": _name(ctx, previous.operator),
                "at_ms": int(previous.at * 1000), "reason": previous.reason}
    if outcome.status is Status.DONE:
        return {"action": outcome.action.value, "operator": _operator_name(ctx, outcome),
                "at_ms": int(outcome.at * 1000), "reason": outcome.reason}
    return None


def _operator_name(ctx: Context, outcome: Outcome) -> str:
    return card_context.display_name(ctx, outcome.actor) if outcome.actor is not None else ""


def _name(ctx: Context, open_id: str) -> str:
    return ctx.feishu.user_name(open_id, "open_id", ctx.locale) or open_id


def _clock_text(ctx: Context, at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(ctx.config.timezone)).strftime("%Y-%m-%d %H:%M")
