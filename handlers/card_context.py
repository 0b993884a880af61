"""What a card needs besides the approval: names resolved, the buttons the rules allow. Rendering is `cards.render`."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cards
from cards.messages import refusal_message, user_message
from core.approval import Approval
from core.errors import FeishuError
from core.outcome import Toast
from core.records import NOT_REPLAYABLE
from core.rules import RULES, Action, Actor, Refused, buttons
from handlers.context import Context
from handlers.records import with_record_state

NAME_BUDGET_S = 1.0  # names are a nicety: never let them eat the answer budget


def person_ids(approval: Approval) -> list[tuple[str, str]]:
    """(id, id_type) of everyone the card names, requester first."""
    found: list[tuple[str, str]] = []

    def add(open_id: str, user_id: str = "") -> None:
        if open_id:
            found.append((open_id, "open_id"))
        elif user_id:
            found.append((user_id, "user_id"))

    add(approval.open_id, approval.user_id)
    for task in approval.tasks:
        add(task.open_id, task.user_id)
    for entry in approval.timeline:
        add(entry.open_id, entry.user_id)
    for comment in approval.comments:
        add(comment.open_id, comment.user_id)
    for widget in approval.form:
        for open_id in widget.open_ids:
            add(open_id)
    return list(dict.fromkeys(found))


def resolve_names(ctx: Context, ids: Iterable[tuple[str, str]]) -> dict[str, str]:
    """id → display name through the contact API (cached); ids that time out or are refused stay ids."""
    deadline = time.monotonic() + NAME_BUDGET_S
    names: dict[str, str] = {}
    for ident, id_type in ids:
        if time.monotonic() > deadline:
            break
        name = ctx.feishu.user_name(ident, id_type, ctx.locale)
        if name:
            names[ident] = name
    return names


def names_for(ctx: Context, approval: Approval) -> dict[str, str]:
    names = resolve_names(ctx, person_ids(approval))
    # user_id aliases of the same people, so widgets holding user_ids read as names too
    for task in approval.tasks:
        if task.user_id and task.open_id in names:
            names.setdefault(task.user_id, names[task.open_id])
    if approval.user_id and approval.open_id in names:
        names.setdefault(approval.user_id, names[approval.open_id])
    return names


def remember_approvers(ctx: Context, approval: Approval) -> None:
    """Who holds a pending task here: they get the daily digest."""
    ctx.store.remember_approvers([t.open_id for t in approval.tasks if t.status.upper() == "PENDING"], ctx.clock())


def display_name(ctx: Context, actor: Actor) -> str:
    if actor.open_id:
        return ctx.feishu.user_name(actor.open_id, "open_id", ctx.locale) or actor.open_id
    return actor.user_id


def buttons_for(ctx: Context, approval: Approval, actor: Actor | None) -> tuple[Action, ...]:
    """State-only buttons on shared cards (a group sees one card); role-filtered in a one-to-one chat."""
    if actor is None:
        return buttons(approval.kind, approval.approval_type, approval.status)
    return buttons(approval.kind, approval.approval_type, approval.status, actor, approval.roles(), ctx.admins)


def approval_card(
    ctx: Context,
    approval: Approval,
    *,
    actions: tuple[Action, ...] | None = None,
    outcome: Mapping[str, Any] | None = None,
    notice: str | None = None,
    processing: bool = False,
    link: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
    shared: bool = False,
) -> dict[str, Any]:
    if actions is None:
        actions = () if outcome or processing else buttons_for(ctx, approval, None)
    remember_serial(ctx, approval)
    return cards.render(
        "approval",
        ctx.locale,
        approval=approval,
        actions=tuple(actions),
        names=dict(names if names is not None else names_for(ctx, approval)),
        tz=ctx.config.timezone,
        link=link,
        outcome=outcome,
        notice=notice,
        processing=processing,
        shared=shared,
    )


def card_for(ctx: Context, approval: Approval, viewer: Actor | None, **context: Any) -> dict[str, Any]:
    """The card as `viewer` alone sees it (a one-to-one chat: only what they may do), or with `viewer` None as a
    group sees it (the state's buttons, and who may act)."""
    acting = not (context.get("outcome") or context.get("processing"))
    approval = with_record_state(ctx, approval)  # a linked approval: its record's state and buttons
    actions = buttons_for(ctx, approval, viewer) if acting else ()
    return approval_card(ctx, approval, actions=actions, shared=viewer is None, **context)


def remember_serial(ctx: Context, approval: Approval) -> None:
    """The serial number on a card is what people type back: the store maps it to the instance code."""
    serial = approval.serial_number
    if serial and serial != approval.instance_code and ctx.store.instance_for_serial(serial) != approval.instance_code:
        ctx.store.remember_serial(serial, approval.instance_code, ctx.clock())


def toast(ctx: Context, kind: str, key: str, **params: Any) -> Toast:
    """A toast in every locale (the callback's ``toast.i18n``); `ctx.locale` where a client has none."""
    texts = cards.toast(key, ctx.locale, **params)
    return Toast(kind, texts["content"], texts["i18n"])


def worded_toast(ctx: Context, kind: str, words: cards.Worded) -> Toast:
    return Toast(kind, cards.localize(words, ctx.locale), dict(words.by_locale))


def current_card(ctx: Context, approval: Approval, viewer: Actor | None = None,
                 notice: str | cards.Worded | None = None) -> dict[str, Any]:
    """The card for the approval as it stands, for `viewer` (None: a shared card); when the bot itself made
    that state, say who and when."""
    approval = with_record_state(ctx, approval)
    previous = ctx.store.last_success(approval.instance_code)
    if previous is not None:
        target = RULES[Action(previous.action)].results_in
        if approval.status is target:
            outcome = {"action": previous.action, "at_ms": int(previous.at * 1000), "reason": previous.reason,
                       "operator": ctx.feishu.user_name(previous.operator, "open_id", ctx.locale) or previous.operator}
            return card_for(ctx, approval, viewer, outcome=outcome, notice=notice)
    return card_for(ctx, approval, viewer, notice=notice)


def not_replayable_notice(ctx: Context, approval_id: str) -> cards.Worded | None:
    """When the newest audit row of this approval is an action from before the kinds of approval that the
    reconciler would not replay: what the reader should do about it (look in Feishu, act again if needed)."""
    history = ctx.store.history(approval_id)
    last = history[-1] if history else None
    if last is None or last.outcome != NOT_REPLAYABLE:
        return None
    when = datetime.fromtimestamp(last.at, ZoneInfo(ctx.config.timezone)).strftime("%Y-%m-%d %H:%M")
    return cards.worded(lambda loc: cards.text("notice.not_replayable", loc, time=when,
                                               action=cards.text(f"action.{last.action}", loc)))


def notice_card(ctx: Context, text: str | cards.Worded, *, tone: str = "info", title_key: str = "title.notice",
                log_id: str | None = None) -> dict[str, Any]:
    """A notice; `text` worded in every locale (a :class:`cards.Worded`) so that each reader reads their own."""
    return cards.render("notice", ctx.locale, title=cards.msg(title_key), text=text, tone=tone, log_id=log_id)


def refusal_words(refused: Refused) -> cards.Worded:
    return cards.worded(lambda loc: refusal_message(refused, loc))


def error_words(err: FeishuError) -> cards.Worded:
    return cards.worded(lambda loc: user_message(err, loc))


def help_card(ctx: Context, notice: str | cards.Msg | None = None) -> dict[str, Any]:
    commands = [
        {"name": c.name, "alias": c.aliases[0] if c.aliases else "", "usage_key": c.usage_key,
         "summary_key": c.summary_key}
        for c in ctx.registry.commands.values()
    ]
    return cards.render("help", ctx.locale, commands=commands, notice=notice)
