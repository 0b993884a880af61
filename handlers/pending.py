"""The /pending list: the caller's to-do tasks and their team's pending punch corrections (attendance records,
handlers/team.py and handlers/records.py), one page, each with the buttons the rules allow its recipient;
`/team` lists the team's records of the look-back window, pending and approved.

A list card is a view of several approvals. It is remembered for each approval it shows, with the tasks it
listed (handlers/copies.py), so that when one of them changes the list is rendered again from those same items:
that item in its new state, the rest intact, no live button for what is already handled.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import cards
from core.approval import Approval, from_record
from core.attendance import AttendanceRecord
from core.errors import FeishuError, MissingAccess
from core.inbound import valid_approval_id
from core.outcome import Reply
from core.rules import RULES, Action, Actor, ApprovalType, Refused
from handlers import card_context, records, team
from handlers.context import Context
from handlers.lookup import load_approval
from handlers.records import with_record_state

log = logging.getLogger(__name__)

PAGE_SIZE = 10
LIST_KINDS = ("pending", "team")  # the views of list cards (handlers/copies.py renders them again as lists)
# a team's records on one card, beside the tasks (/pending) or alone (/team); the rest: "… and N more" (every
# record found is remembered, so /approval, /approve … take any id of them)
RECORDS_SHOWN = {"pending": 10, "team": 20}
SEARCH_BUDGET_S = 1.5  # of the 3 s answer: the team's queries still running then finish in the background
FOLLOW_UP_WAIT_S = 10.0  # the late part waits this long for the reply it updates to be sent
_TASK_FIELDS = ("process_code", "process_id", "title", "definition_name", "initiator_names", "urls")


def list_reply(ctx: Context, actor: Actor, page_token: str = "", page: int = 1, *, shared: bool = False,
               skip_empty: bool = False) -> Reply | None:
    """One page of `actor`'s to-dos as a list card (a notice when it cannot be had).

    With `skip_empty` (the digest), None when there is nothing pending or the query failed."""
    if not actor.open_id:
        return Reply(card=card_context.notice_card(ctx, card_context.refusal_words(Refused("unknown_user")),
                                                   tone="warning"))
    try:
        result = ctx.feishu.query_tasks(actor.open_id, PAGE_SIZE, page_token)
    except FeishuError as err:
        if skip_empty:
            return None
        return Reply(card=card_context.notice_card(ctx, card_context.error_words(err), tone="error",
                                                   log_id=err.log_id))
    if skip_empty and not result.tasks:
        return None
    view = {"kind": "pending", "recipient": actor.open_id, "shared": shared, "page": page,
            "page_token": page_token, "total": result.total, "next_token": result.next_token,
            "tasks": [_kept(task) for task in result.tasks]}
    if page > 1 or skip_empty:  # the team's records are on the first page; the digest tells of tasks
        return render(ctx, view)
    return with_team_records(ctx, actor, view, remedy_statuses=(records.PENDING,))


def team_reply(ctx: Context, actor: Actor, *, shared: bool = False, refresh: bool = False) -> Reply:
    """/team: the team's records of the window, pending remedies and approved records, each with its buttons."""
    if not actor.open_id:
        return Reply(card=card_context.notice_card(ctx, card_context.refusal_words(Refused("unknown_user")),
                                                   tone="warning"))
    view: dict[str, Any] = {"kind": "team", "recipient": actor.open_id, "shared": shared, "page": 1,
                            "page_token": "", "total": None, "next_token": None, "tasks": []}
    return with_team_records(ctx, actor, view, remedy_statuses=(records.PENDING, records.APPROVED),
                             approval_statuses=(records.APPROVED,), refresh=refresh)


def with_team_records(ctx: Context, actor: Actor, view: dict[str, Any], *, remedy_statuses: tuple[int, ...],
                      approval_statuses: tuple[int, ...] = (), refresh: bool = False) -> Reply:
    """`view` with the team's records found within SEARCH_BUDGET_S; the rest reach the card as an update."""
    deadline = time.monotonic() + SEARCH_BUDGET_S
    try:
        found = team.team_of(ctx, actor, refresh=refresh)
        search = records.search(ctx, team.member_ids(found), deadline=deadline, remedy_statuses=remedy_statuses,
                                approval_statuses=approval_statuses)
    except FeishuError as err:
        view["team_error"] = _kept_error(err)
        return render(ctx, view)
    view.update(manager=found.manager, days=ctx.config.attendance_lookback_days, team_size=len(found.members))
    _set_records(ctx, view, search.found, found)
    if search.complete:
        return render(ctx, view)
    view["loading"] = f"loading:{uuid.uuid4().hex}"
    reply = render(ctx, view)
    ctx.pool.submit(_follow_up, ctx, dict(view), search, found)
    return reply


def _set_records(ctx: Context, view: dict[str, Any], found: list[AttendanceRecord], members: team.Team) -> None:
    by_id = members.by_user_id()
    kept = found[:RECORDS_SHOWN.get(str(view.get("kind")), 10)]
    view["records"] = [_kept_record(r, by_id.get(r.employee_id)) for r in kept]
    view["records_more"] = len(found) - len(kept)
    view["names"] = {k: v for k, v in team.names(members, ctx.locale).items()
                     if k in {r.employee_id for r in kept} or k in {by_id[r.employee_id].open_id
                                                                   for r in kept if r.employee_id in by_id}}
    records.remember(ctx, found, {m.user_id: m.open_id for m in members.members})  # all, not only those shown


def _kept_error(err: FeishuError) -> dict[str, Any]:
    """What the card needs to say why the team's records are missing (the store keeps the view as JSON)."""
    return {"code": err.code, "log_id": err.log_id, "needs": getattr(err, "needs", ""), "kind": err.kind,
            "msg": err.msg[:200]}


def _kept_record(record: AttendanceRecord, member: team.Member | None) -> dict[str, Any]:
    return {"approval_id": record.approval_id, "type": record.approval_type.value, "status": record.status,
            "employee_id": record.employee_id, "open_id": member.open_id if member else "",
            "raw": dict(record.raw)}


def _follow_up(ctx: Context, view: dict[str, Any], search: records.Search, members: team.Team) -> None:
    """The team's queries that outlived the budget: once done, the reply is updated with everything."""
    key = str(view.pop("loading"))
    try:
        _set_records(ctx, view, search.finish(), members)
    except FeishuError as err:
        view["team_error"] = _kept_error(err)
    message_id = ""
    for _ in range(int(FOLLOW_UP_WAIT_S / 0.2)):
        message_id = next(iter(ctx.store.cards_for(key)), "")
        if message_id:
            break
        ctx.sleep(0.2)
    if not message_id:
        log.warning("team records found late, but the reply they belong to was not seen: %s", key)
        return
    reply = render(ctx, view)
    try:
        ctx.feishu.patch_card(message_id, reply.card or {})
    except FeishuError as err:
        log.warning("team records not shown: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)
        return
    now = ctx.clock()
    for approval_id in reply.shows:
        ctx.store.remember_card(approval_id, message_id, now)
    ctx.store.remember_copy(message_id, dict(view), now)


def render(ctx: Context, view: Mapping[str, Any], fresh: Mapping[str, Approval] | None = None) -> Reply:
    """The list `view` describes, for its recipient, each item looked up now (`fresh`: the approvals already
    looked up, by instance code: they cost no call)."""
    actor = Actor(open_id=str(view.get("recipient") or ""))
    items = [_item(ctx, task, actor, fresh) for task in view.get("tasks") or ()]
    items += [_record_item(ctx, kept, view, actor, fresh) for kept in view.get("records") or ()]
    # one lookup for the whole list: its requesters and the people its key lines name, each reader's language
    names = {**dict(view.get("names") or {}),
             **card_context.names_for_all(ctx, [item["approval"] for item in items if item.get("approval") is not None],
                                          departments=False)}
    card = cards.render("pending_list", ctx.locale, items=items, names=names,
                        tz=ctx.config.timezone, page=int(view.get("page") or 1), total=_total(view),
                        next_page_token=view.get("next_token"), page_token=str(view.get("page_token") or ""),
                        team=_team_part(view), title_key="title.team" if view.get("kind") == "team" else "")
    shows = tuple(item["approval_id"] for item in items if item["approval_id"])
    if view.get("loading"):
        shows += (str(view["loading"]),)
    return Reply(card=card, shows=shows, view=dict(view))


def _total(view: Mapping[str, Any]) -> int | None:
    total = view.get("total")
    if total is None:
        return None if view.get("kind") == "pending" else len(view.get("records") or ()) + int(
            view.get("records_more") or 0)
    return int(total) + len(view.get("records") or ()) + int(view.get("records_more") or 0)


def _team_part(view: Mapping[str, Any]) -> dict[str, Any]:
    """What the card says about the team's records: the error, "still looking", how many more."""
    error = view.get("team_error")
    words = card_context.error_words(_error_of(error)) if isinstance(error, Mapping) else None
    return {"error": words, "loading": bool(view.get("loading")),
            "more": int(view.get("records_more") or 0), "days": int(view.get("days") or 0),
            "team": view.get("kind") == "team", "size": view.get("team_size")}


def _error_of(kept: Mapping[str, Any]) -> FeishuError:
    code, log_id = int(kept.get("code") or -1), str(kept.get("log_id") or "")
    if kept.get("needs"):
        return MissingAccess(str(kept["needs"]), code=code, log_id=log_id)
    return FeishuError(code, str(kept.get("msg") or ""), log_id=log_id, kind=str(kept.get("kind") or "api"))


def _record_item(ctx: Context, kept: Mapping[str, Any], view: Mapping[str, Any], actor: Actor,
                 fresh: Mapping[str, Approval] | None) -> dict[str, Any]:
    """A record of the team as a list item: the manager who listed it decides it (the rules ask contact again
    before any action)."""
    approval = (fresh or {}).get(str(kept.get("approval_id")))
    if approval is None:
        record = AttendanceRecord(str(kept.get("approval_id")), ApprovalType(str(kept.get("type"))),
                                  int(kept.get("status") or 0), str(kept.get("employee_id") or ""),
                                  dict(kept.get("raw") or {}))
        deciders = frozenset({str(view.get("manager") or ""), actor.open_id})
        approval = from_record(record, str(kept.get("open_id") or ""), deciders)
        previous = ctx.store.last_success(approval.instance_code)  # what the bot did since the list was made
        if previous is not None:
            approval = dataclasses.replace(approval, status=RULES[Action(previous.action)].results_in)
    return {"approval": approval, "approval_id": approval.instance_code, "title": "", "definition_name": "",
            "initiator": "", "link": None, "actions": card_context.buttons_for(ctx, approval, actor)}


def _kept(task: Mapping[str, Any]) -> dict[str, Any]:
    """What the list needs of a task to be rendered again (the store keeps it as JSON)."""
    return {key: task[key] for key in _TASK_FIELDS if key in task}


def instance_of(task: Mapping[str, Any]) -> str:
    return str(task.get("process_code") or task.get("process_id") or "")


def _item(ctx: Context, task: Mapping[str, Any], actor: Actor,
          fresh: Mapping[str, Approval] | None) -> dict[str, Any]:
    instance = instance_of(task)
    urls = task.get("urls") if isinstance(task.get("urls"), dict) else None
    item: dict[str, Any] = {
        "approval": None,
        "approval_id": instance,
        "title": str(task.get("title") or ""),
        "definition_name": str(task.get("definition_name") or ""),
        "initiator": ", ".join(str(n) for n in _names(task.get("initiator_names"))),
        "link": {"pc": urls.get("pc", ""), "mobile": urls.get("mobile", "")} if urls else None,
        "actions": (),
    }
    if not valid_approval_id(instance):
        return item
    approval = (fresh or {}).get(instance)
    if approval is None:
        try:
            approval = load_approval(ctx, instance)
        except FeishuError:
            return item
    card_context.remember_serial(ctx, approval)
    approval = with_record_state(ctx, approval)
    item["approval"] = approval
    item["actions"] = card_context.buttons_for(ctx, approval, actor)
    return item


def _names(value: Any) -> Sequence[Any]:
    return value if isinstance(value, list | tuple) else ()
