"""The one mapping from what an action came to (`core.outcome.Outcome`) to what the person sees: a toast and
the card (the approval's new state, or the refusal or failure as a notice on it)."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cards
from cards.messages import refusal_message, user_message
from core.approval import detail_links
from core.errors import FeishuError
from core.outcome import Outcome, Reply, Status, Toast
from core.rules import Action, Actor, Kind
from handlers import card_context
from handlers.context import Context

log = logging.getLogger(__name__)
_TOLD = {Action.APPROVE: "notify.approved", Action.REJECT: "notify.rejected"}
_DONE_TEXT = {"approve": "toast.approved", "reject": "toast.rejected", "revoke": "toast.revoked"}


def outcome_text(ctx: Context, outcome: Outcome, locale: str | None = None) -> str:
    """What came of it, in `locale` (default: the bot's)."""
    loc = locale or ctx.locale
    if outcome.status is Status.DONE:
        return cards.text(_DONE_TEXT[outcome.action.value], loc)
    if outcome.status is Status.BUSY:
        return cards.text("toast.busy", loc)
    if outcome.status is Status.UNKNOWN:
        return cards.text("toast.checking", loc)
    if outcome.status is Status.ALREADY and outcome.previous is not None:
        previous = outcome.previous
        return cards.text("toast.already_done", loc, action=cards.text(f"action.{previous.action}", loc),
                          name=_name(ctx, previous.operator), time=_clock_text(ctx, previous.at))
    if outcome.refused is not None:
        return refusal_message(outcome.refused, loc)
    if outcome.error is not None:
        return user_message(outcome.error, loc)
    return cards.text("error.internal", loc, ref="")


def outcome_words(ctx: Context, outcome: Outcome) -> cards.Worded:
    """`outcome_text` in every locale: for the toast's i18n and the card's notice."""
    return cards.worded(lambda loc: outcome_text(ctx, outcome, loc))


def present(ctx: Context, outcome: Outcome, *, as_message: bool = False, viewer: Actor | None = None) -> Reply:
    """Toast and card; with `as_message` (a command's reply) a notice card stands in when there is no card.

    `viewer`: the one person who sees the card (a one-to-one chat), whose buttons it shows; None for a card
    that others may see too (a group's), which shows the state and who may act."""
    words = outcome_words(ctx, outcome)
    card = _card(ctx, outcome, words, viewer)
    if card is None and as_message:
        tone = {"success": "success", "warning": "warning", "info": "info"}.get(outcome.toast_kind, "error")
        card = card_context.notice_card(ctx, words, tone=tone, log_id=outcome.log_id or None)
    approval_id = outcome.approval.instance_code if outcome.approval is not None else ""
    toast = Toast(outcome.toast_kind, cards.localize(words, ctx.locale), words.by_locale)
    return Reply(card=card, toast=toast, approval_id=approval_id)


def _card(ctx: Context, outcome: Outcome, text: cards.Worded, viewer: Actor | None) -> dict[str, Any] | None:
    done = _decision(ctx, outcome)
    if outcome.approval is not None:
        if done is not None:
            return card_context.approval_card(ctx, outcome.approval, outcome=done, shared=viewer is None)
        if outcome.status in (Status.REFUSED, Status.FAILED, Status.UNKNOWN):
            return card_context.card_for(ctx, outcome.approval, viewer, notice=text, link=_withdraw_link(ctx, outcome))
        return None
    if outcome.attendance_only and outcome.status is not Status.BUSY:
        return cards.render("attendance_only", ctx.locale, approval_id=outcome.approval_id,
                            approval_type=outcome.approval_type or None, actions=(), outcome=done,
                            notice=None if done else text)
    return None


def _withdraw_link(ctx: Context, outcome: Outcome) -> dict[str, str] | None:
    """A native approval is withdrawn by its submitter in Feishu Approval: the refusal's card opens it there."""
    if outcome.refused is None or outcome.refused.key != "native_revoke" or outcome.approval is None:
        return None
    return detail_links(outcome.approval.instance_code, ctx.config.base_url)


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


def tell_requester(ctx: Context, outcome: Outcome) -> None:
    """A decision taken through attendance `approval_infos/process` reaches nobody in Feishu: the bot tells the
    requester (when it knows their open_id) the decision and the reason or comment, in the background."""
    if outcome.status is not Status.DONE or outcome.action not in (Action.APPROVE, Action.REJECT):
        return
    if outcome.approval is not None and outcome.approval.kind is Kind.NATIVE:
        return  # Feishu Approval tells the requester of a task's decision itself
    requester = outcome.approval.open_id if outcome.approval is not None else ""
    if not requester or (outcome.actor is not None and requester in outcome.actor.ids()):
        return
    ctx.pool.submit(_send_decision, ctx, outcome, requester)


def _send_decision(ctx: Context, outcome: Outcome, requester: str) -> None:
    words = decision_words(ctx, outcome)
    tone = "success" if outcome.action is Action.APPROVE else "warning"
    card = card_context.notice_card(ctx, words, tone=tone, title_key="notify.title")
    try:
        ctx.feishu.send_card(requester, card, "open_id", uuid=f"told-{outcome.action.value}-{outcome.approval_id}")
    except FeishuError as err:
        log.warning("requester not told: approval=%s code=%s log_id=%s", outcome.approval_id, err.code, err.log_id)


def decision_words(ctx: Context, outcome: Outcome) -> cards.Worded:
    """"Manager Wang rejected your punch correction request (ID …). Reason: …", in every locale."""
    approval = outcome.approval
    shown_id = (approval.serial_number or approval.instance_code) if approval is not None else outcome.approval_id
    name = _operator_name(ctx, outcome)
    extra = "notify.comment" if outcome.action is Action.APPROVE else "outcome.reason"

    def line(loc: str) -> str:
        kind = cards.text(f"type.{outcome.approval_type}", loc) if outcome.approval_type else ""
        said = cards.text(_TOLD[outcome.action], loc, name=name, type=kind, id=shown_id)
        if outcome.reason:
            said += "\n" + cards.text(extra, loc, comment=outcome.reason, reason=outcome.reason)
        return said

    return cards.worded(line)


def _operator_name(ctx: Context, outcome: Outcome) -> str:
    return card_context.display_name(ctx, outcome.actor) if outcome.actor is not None else ""


def _name(ctx: Context, open_id: str) -> str:
    return ctx.feishu.user_name(open_id, "open_id", ctx.locale) or open_id


def _clock_text(ctx: Context, at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(ctx.config.timezone)).strftime("%Y-%m-%d %H:%M")
