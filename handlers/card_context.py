"""What a card needs besides the approval: names resolved, the buttons the rules allow. Rendering is `cards.render`."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cards
from cards.messages import refusal_message, user_message
from core.approval import Approval, InstanceFormatError, Widget, parse_form
from core.errors import FeishuError, StoreUnavailable
from core.outcome import Toast
from core.records import NOT_REPLAYABLE
from core.rules import RULES, Action, Actor, Kind, Refused, buttons
from handlers import names, team
from handlers.context import Context
from handlers.records import with_record_state

log = logging.getLogger(__name__)

MAX_FORM_DEPTH = 3  # fieldList in fieldList …: as deep as cards.widgets shows
MAX_ROWS = 50  # rows of one fieldList a card shows (cards.widgets max_items)
MAX_IDS = 200  # ids of one form: a form that names more gets its first names, the rest counted

def person_ids(approval: Approval) -> list[tuple[str, str]]:
    """(id, id_type) of everyone the card names, requester first: approvers, the timeline's people and the
    people it names (cc, transfers, added approvers), commenters, and the people of the form (contact widgets,
    trip companions, in fieldList rows too)."""
    found: list[tuple[str, str]] = []

    def add(open_id: str, user_id: str = "") -> None:
        if open_id:
            found.append((open_id, "open_id"))
        if user_id:  # widgets and timeline targets may name the same person by user_id only
            found.append((user_id, "user_id"))

    add(approval.open_id, approval.user_id)
    for task in approval.tasks:
        add(task.open_id, task.user_id)
    for entry in approval.timeline:
        add(entry.open_id, entry.user_id)
        for open_id in entry.open_id_list:
            add(open_id)
        for user_id in entry.user_id_list:
            add("", user_id)
    for comment in approval.comments:
        add(comment.open_id, comment.user_id)
    for ident in _form_ids(approval.form, "person"):
        add(*((ident, "") if names.user_id_type(ident) == "open_id" else ("", ident)))
    for user_id in sorted(approval.deciders):  # an attendance record's leaders (a group's card names them)
        add("", user_id)
    return list(dict.fromkeys(found))


def department_ids(approval: Approval) -> list[tuple[str, str]]:
    """(id, id_type) of the departments the card names: the requester's, and those of department widgets."""
    ids = [approval.department_id, *_form_ids(approval.form, "department")]
    return list(dict.fromkeys((i, names.department_id_type(i)) for i in ids if i))


def _form_ids(form: Iterable[Widget], kind: str, depth: int = 0) -> list[str]:
    """The ids a form's widgets name: people (contact widgets' user ids and open ids, trip companions) or
    departments; into fieldList rows, as deep as a card shows them."""
    found: list[str] = []
    for widget in form:
        value = widget.value
        if widget.type == "fieldList" and isinstance(value, list) and depth < MAX_FORM_DEPTH:
            for cells in value[:MAX_ROWS]:
                try:
                    found += _form_ids(parse_form(cells if isinstance(cells, list) else [cells]), kind, depth + 1)
                except InstanceFormatError:
                    continue
        elif kind == "person" and widget.type == "contact":
            found += [str(v) for v in _listed(value)] + list(widget.open_ids)
        elif kind == "person" and widget.type == "tripGroup" and isinstance(value, Mapping):
            found += [str(v) for v in _listed(value.get("peer"))]
        elif kind == "department" and widget.type == "department":
            found += [str(d.get("open_id") or d.get("department_id") or d.get("id") or "") if isinstance(d, Mapping)
                      else str(d) for d in _listed(value)]
    return [i for i in found if i][:MAX_IDS]


def _listed(value: Any) -> list[Any]:
    return [v for v in value if v not in (None, "")] if isinstance(value, list | tuple) else []


def resolve_names(ctx: Context, ids: Iterable[tuple[str, str]],
                  departments: Iterable[tuple[str, str]] = ()) -> dict[str, str]:
    """id → display name (a :class:`cards.Name`: each reader's language on a card, `ctx.locale` as a plain
    string) through the contact API, batched and cached (handlers/names.py); ids without one are left out."""
    return dict(names.lookup(ctx.feishu, ctx.names, ctx.locale, ids, departments))


def names_for(ctx: Context, approval: Approval) -> dict[str, str]:
    return names_for_all(ctx, [approval])


def names_for_all(ctx: Context, approvals: Iterable[Approval], *, departments: bool = True) -> dict[str, str]:
    """The names the cards of `approvals` show, in one lookup (one users/batch call per 50 new people; a list,
    which shows no departments, passes `departments` False)."""
    people: list[tuple[str, str]] = []
    units: list[tuple[str, str]] = []
    for approval in approvals:
        people += person_ids(approval)
        units += department_ids(approval) if departments else []
    return resolve_names(ctx, people, units)


def remember_approvers(ctx: Context, approval: Approval) -> None:
    """Who holds a pending task here: they get the daily digest."""
    ctx.store.remember_approvers([t.open_id for t in approval.tasks if t.status.upper() == "PENDING"], ctx.clock())


def display_name(ctx: Context, actor: Actor) -> str:
    """The actor's name (a :class:`cards.Name`), else their open_id (a card reads it "Someone (…)")."""
    ids = [(i, t) for i, t in ((actor.open_id, "open_id"), (actor.user_id, "user_id")) if i]
    found = resolve_names(ctx, ids)
    return next((found[i] for i, _ in ids if i in found), actor.open_id or actor.user_id)


def buttons_for(ctx: Context, approval: Approval, actor: Actor | None) -> tuple[Action, ...]:
    """State-only buttons on shared cards (a group sees one card); role-filtered in a one-to-one chat."""
    if actor is None:
        return buttons(approval.kind, approval.approval_type, approval.status)
    if approval.kind is Kind.ATTENDANCE and not actor.user_id and not actor.ids() & approval.deciders:
        try:  # a record's leaders are known by user_id (contact's, = attendance's employee_id)
            actor = team.with_user_id(ctx, actor)
        except FeishuError:
            pass
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
    if approval.kind is Kind.ATTENDANCE:  # a record standing alone: its own card, no instance parts
        return cards.render("record", ctx.locale, approval=approval, actions=tuple(actions),
                            names=dict(names if names is not None else names_for(ctx, approval)),
                            tz=ctx.config.timezone, outcome=outcome, notice=notice, processing=processing,
                            shared=shared)
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
    """The serial number on a card is what people type back: the store maps it to the instance code. Written in
    the pool, off the path of the answer that shows the card (nobody types it back before reading it)."""
    serial = approval.own_serial
    if serial and not ctx.store.knows_serial(serial, approval.instance_code):
        ctx.pool.submit(_remember_serial, ctx, serial, approval.instance_code)


def _remember_serial(ctx: Context, serial: str, instance_code: str) -> None:
    try:
        if ctx.store.instance_for_serial(serial) != instance_code:  # known pairs are answered from memory
            ctx.store.remember_serial(serial, instance_code, ctx.clock())
    except StoreUnavailable as err:  # the card is shown; only typing its serial back will not work yet
        log.warning("serial not remembered: %s store unavailable: %s", serial[:64], err.problem)


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
                       "operator": display_name(ctx, Actor(open_id=previous.operator))}
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
