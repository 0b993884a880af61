"""The /pending list: the caller's to-do tasks, one page, each with the buttons the rules allow its recipient.

A list card is a view of several approvals. It is remembered for each approval it shows, with the tasks it
listed (handlers/copies.py), so that when one of them changes the list is rendered again from those same items:
that item in its new state, the rest intact, no live button for what is already handled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import cards
from core.approval import Approval
from core.errors import FeishuError
from core.inbound import valid_approval_id
from core.outcome import Reply
from core.rules import Actor, Refused
from handlers import card_context
from handlers.context import Context
from handlers.lookup import load_approval
from handlers.records import with_record_state

PAGE_SIZE = 10
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
    return render(ctx, view)


def render(ctx: Context, view: Mapping[str, Any], fresh: Mapping[str, Approval] | None = None) -> Reply:
    """The list `view` describes, for its recipient, each item looked up now (`fresh`: the approvals already
    looked up, by instance code: they cost no call)."""
    actor = Actor(open_id=str(view.get("recipient") or ""))
    items = [_item(ctx, task, actor, fresh) for task in view.get("tasks") or ()]
    card = cards.render("pending_list", ctx.locale, items=items, names={}, tz=ctx.config.timezone,
                        page=int(view.get("page") or 1), total=view.get("total"),
                        next_page_token=view.get("next_token"), page_token=str(view.get("page_token") or ""))
    shows = tuple(item["approval_id"] for item in items if item["approval_id"])
    return Reply(card=card, shows=shows, view=dict(view))


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
