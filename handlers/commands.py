"""Text commands: one function each, registered in `handlers/__init__.py` with their aliases, argument counts
and texts (the registry checks the count before a command runs). Each returns a `Reply` with a card."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cards
from cards.messages import refusal_message, user_message
from core.approval import Approval
from core.errors import FeishuError
from core.inbound import valid_approval_id
from core.outcome import Reply, Status
from core.rules import Action, Actor, ApprovalType, Refused, may_see
from handlers import card_context
from handlers.chat import CommandCall
from handlers.context import Context
from handlers.lookup import is_not_found, load_approval
from handlers.replies import outcome_text
from handlers.workflow import ActionRequest, act, perform

MAX_BATCH = 20
PAGE_SIZE = 10


def show_help(ctx: Context, call: CommandCall) -> Reply:
    return Reply(card=card_context.help_card(ctx))


def _refusal(ctx: Context, refused: Refused) -> Reply:
    return Reply(card=card_context.notice_card(ctx, refusal_message(refused, ctx.locale), tone="warning"))


def _error(ctx: Context, err: FeishuError) -> Reply:
    return Reply(card=card_context.notice_card(ctx, user_message(err, ctx.locale), tone="error",
                                               log_id=err.log_id or None))


def can_view(ctx: Context, approval: Approval, actor: Actor) -> bool:
    return may_see(actor, approval.participants(), ctx.admins)


def _not_found(ctx: Context, approval_id: str) -> Reply:
    """The one answer for an id that does not exist and for an approval the caller takes no part in."""
    return _refusal(ctx, Refused("not_found", {"id": approval_id[:64]}))


def show_approval(ctx: Context, call: CommandCall) -> Reply:
    approval_id = call.args[0]
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    try:
        approval = load_approval(ctx, approval_id)
    except FeishuError as err:
        return _attendance_only_view(ctx, call, approval_id) if is_not_found(err) else _error(ctx, err)
    if not can_view(ctx, approval, call.actor):
        return _not_found(ctx, approval_id)
    card_context.remember_approvers(ctx, approval)
    # A one-to-one card is seen by its reader alone: show only what they may do. A group card is shared.
    actor = call.actor if call.in_private else None
    card = card_context.approval_card(ctx, approval, actions=card_context.buttons_for(ctx, approval, actor))
    return Reply(card=card, approval_id=approval.instance_code)


def _attendance_only_view(ctx: Context, call: CommandCall, approval_id: str) -> Reply:
    if not (call.actor.ids() & ctx.admins):
        return _not_found(ctx, approval_id)
    notice = refusal_message(Refused("not_found", {"id": approval_id}), ctx.locale)
    card = cards.render("attendance_only", ctx.locale, approval_id=approval_id, approval_type=None, actions=(),
                        outcome=None, notice=notice)
    return Reply(card=card)


def batch(ctx: Context, action: Action, ids: Sequence[str], actor: Actor) -> Reply:
    """Each approval on its own, one summary card."""
    results = []
    for approval_id in ids[:MAX_BATCH]:
        outcome = perform(ctx, ActionRequest(action, approval_id, actor))
        status = {Status.DONE: "done", Status.FAILED: "failed"}.get(outcome.status, "refused")
        results.append({"approval_id": approval_id, "outcome": status, "text": outcome_text(ctx, outcome)})
    return Reply(card=cards.render("summary", ctx.locale, results=results))


def approve(ctx: Context, call: CommandCall) -> Reply:
    ids = list(dict.fromkeys(call.args))
    if len(ids) > 1:
        return batch(ctx, Action.APPROVE, ids, call.actor)
    return act(ctx, ActionRequest(Action.APPROVE, ids[0], call.actor), as_message=True)


def reject(ctx: Context, call: CommandCall) -> Reply:
    reason = " ".join(call.args[1:])
    return act(ctx, ActionRequest(Action.REJECT, call.args[0], call.actor, reason=reason), as_message=True)


def revoke(ctx: Context, call: CommandCall) -> Reply:
    given = call.args[1].lower() if len(call.args) == 2 else ""
    if given and given not in ApprovalType.__members__.values():
        return _refusal(ctx, Refused("bad_type", {"type": given[:32]}))
    return act(ctx, ActionRequest(Action.REVOKE, call.args[0], call.actor, given_type=given), as_message=True)


def list_pending(ctx: Context, call: CommandCall) -> Reply:
    return Reply(card=pending_card(ctx, call.actor))


def pending_card(
    ctx: Context, actor: Actor, page_token: str = "", page: int = 1, *, skip_empty: bool = False
) -> dict[str, Any] | None:
    """The caller's own to-do tasks, one page, each with the buttons the rules allow them.

    With `skip_empty` (the digest), None when there is nothing pending or the query failed."""
    if not actor.open_id:
        return card_context.notice_card(ctx, refusal_message(Refused("unknown_user"), ctx.locale), tone="warning")
    try:
        result = ctx.feishu.query_tasks(actor.open_id, PAGE_SIZE, page_token)
    except FeishuError as err:
        if skip_empty:
            return None
        return card_context.notice_card(ctx, user_message(err, ctx.locale), tone="error", log_id=err.log_id)
    if skip_empty and not result.tasks:
        return None
    items = [_pending_item(ctx, task, actor) for task in result.tasks]
    return cards.render("pending_list", ctx.locale, items=items, names={}, tz=ctx.config.timezone, page=page,
                        total=result.total, next_page_token=result.next_token)


def _pending_item(ctx: Context, task: Any, actor: Actor) -> dict[str, Any]:
    instance = str(task.get("process_code") or task.get("process_id") or "")
    urls = task.get("urls") if isinstance(task.get("urls"), dict) else None
    item: dict[str, Any] = {
        "approval": None,
        "approval_id": instance,
        "title": str(task.get("title") or ""),
        "definition_name": str(task.get("definition_name") or ""),
        "initiator": ", ".join(str(n) for n in task.get("initiator_names") or ()),
        "link": {"pc": urls.get("pc", ""), "mobile": urls.get("mobile", "")} if urls else None,
        "actions": (),
    }
    if not valid_approval_id(instance):
        return item
    try:
        approval = load_approval(ctx, instance)
    except FeishuError:
        return item
    item["approval"] = approval
    item["actions"] = card_context.buttons_for(ctx, approval, actor)
    return item


def show_history(ctx: Context, call: CommandCall) -> Reply:
    approval_id = call.args[0]
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    if not (call.actor.ids() & ctx.admins):
        try:
            approval = load_approval(ctx, approval_id)
        except FeishuError as err:
            if is_not_found(err):
                return _not_found(ctx, approval_id)
            return _error(ctx, err)
        if not can_view(ctx, approval, call.actor):
            return _not_found(ctx, approval_id)
    records = ctx.store.history(approval_id)
    names = card_context.resolve_names(ctx, dict.fromkeys((r.operator, "open_id") for r in records if r.operator))
    rows = [
        {"at_ms": int(r.at * 1000), "operator": names.get(r.operator, r.operator), "action": r.action,
         "outcome": r.outcome, "reason": r.reason, "code": r.code, "log_id": r.log_id}
        for r in records
    ]
    return Reply(card=cards.render("history", ctx.locale, approval_id=approval_id, records=rows,
                                   tz=ctx.config.timezone))
