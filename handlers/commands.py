"""Text commands: one function each, registered in `handlers/__init__.py`. Each returns a `Reply` (a card)."""

from __future__ import annotations

from collections.abc import Sequence

import cards
from bot.approvals import Approval, InstanceFormatError, from_instance
from bot.dispatch import CommandCall, Context, Reply
from bot.errors import refusal_message, user_message
from bot.feishu import FeishuError
from bot.inbound import valid_approval_id
from bot.rules import Action, Actor, ApprovalType, Refused
from handlers import acting, views
from handlers.acting import Outcome

MAX_BATCH = 20


def show_help(ctx: Context, call: CommandCall) -> Reply:
    return Reply(card=views.help_card(ctx))


def _usage(ctx: Context, name: str) -> Reply:
    usage = cards.text(f"command.{name}.usage", ctx.locale)
    return Reply(card=views.help_card(ctx, notice=usage))


def _refusal(ctx: Context, refused: Refused) -> Reply:
    return Reply(card=views.notice_card(ctx, refusal_message(refused, ctx.locale), tone="warning"))


def can_view(ctx: Context, approval: Approval, actor: Actor) -> bool:
    """Admins and the people on the approval (requester, approvers, timeline) may read it; strangers may not."""
    ids = actor.ids()
    if ids & ctx.admins:
        return True
    roles = approval.roles()
    involved = set(roles.requester | roles.pending_approvers | roles.passed_by)
    for task in approval.tasks:
        involved.update(i for i in (task.open_id, task.user_id) if i)
    for entry in approval.timeline:
        involved.update(i for i in (entry.open_id, entry.user_id, *entry.open_id_list, *entry.user_id_list) if i)
    return bool(ids & involved)


def show_approval(ctx: Context, call: CommandCall) -> Reply:
    if len(call.args) != 1:
        return _usage(ctx, "approval")
    approval_id = call.args[0]
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    try:
        data = ctx.feishu.get_instance(approval_id)
        approval = from_instance(data, approval_id, ctx.config.attendance_id_field)
    except FeishuError as err:
        if err.code == acting.NOT_FOUND:
            return _attendance_only_view(ctx, call, approval_id)
        return Reply(card=views.notice_card(ctx, user_message(err, ctx.locale), tone="error", log_id=err.log_id))
    except InstanceFormatError:
        text = user_message(FeishuError(-1, "unreadable", kind="server"), ctx.locale)
        return Reply(card=views.notice_card(ctx, text, tone="error"))
    if not can_view(ctx, approval, call.actor):
        return _refusal(ctx, Refused("not_related"))
    views.remember_approvers(ctx, approval)
    # A one-to-one card is seen by its reader alone: show only what they may do. A group card is shared.
    actor = call.actor if call.message.chat_type == "p2p" else None
    card = views.approval_card(ctx, approval, actions=views.buttons_for(ctx, approval, actor))
    return Reply(card=card, approval_id=approval.instance_code)


def _attendance_only_view(ctx: Context, call: CommandCall, approval_id: str) -> Reply:
    if not (call.actor.ids() & ctx.admins):
        return _refusal(ctx, Refused("not_found", {"id": approval_id}))
    notice = refusal_message(Refused("not_found", {"id": approval_id}), ctx.locale)
    card = cards.render("attendance_only", ctx.locale, approval_id=approval_id, approval_type=None, actions=(),
                        outcome=None, notice=notice)
    return Reply(card=card)


def _outcome_reply(ctx: Context, outcome: Outcome) -> Reply:
    if outcome.card is not None:
        return Reply(card=outcome.card, approval_id=outcome.approval_id if outcome.approval else "")
    tone = {"done": "success", "refused": "warning", "busy": "info"}.get(outcome.status, "error")
    return Reply(card=views.notice_card(ctx, outcome.message, tone=tone, log_id=outcome.log_id or None))


def _batch(ctx: Context, action: Action, ids: Sequence[str], actor: Actor) -> Reply:
    results = []
    for approval_id in ids[:MAX_BATCH]:
        outcome = acting.perform(ctx, action, approval_id, actor)
        status = {"done": "done", "refused": "refused", "busy": "refused"}.get(outcome.status, "failed")
        results.append({"approval_id": approval_id, "outcome": status, "text": outcome.message})
    return Reply(card=cards.render("summary", ctx.locale, results=results))


def approve(ctx: Context, call: CommandCall) -> Reply:
    if not call.args:
        return _usage(ctx, "approve")
    ids = list(dict.fromkeys(call.args))
    if len(ids) > 1:
        return _batch(ctx, Action.APPROVE, ids, call.actor)
    return _outcome_reply(ctx, acting.perform(ctx, Action.APPROVE, ids[0], call.actor))


def reject(ctx: Context, call: CommandCall) -> Reply:
    if not call.args:
        return _usage(ctx, "reject")
    reason = " ".join(call.args[1:])
    return _outcome_reply(ctx, acting.perform(ctx, Action.REJECT, call.args[0], call.actor, reason=reason))


def revoke(ctx: Context, call: CommandCall) -> Reply:
    if not 1 <= len(call.args) <= 2:
        return _usage(ctx, "revoke")
    given = call.args[1].lower() if len(call.args) == 2 else ""
    if given and given not in ApprovalType.__members__.values():
        return _refusal(ctx, Refused("bad_type", {"type": given[:32]}))
    return _outcome_reply(ctx, acting.perform(ctx, Action.REVOKE, call.args[0], call.actor, given_type=given))


def list_pending(ctx: Context, call: CommandCall) -> Reply:
    if call.args:
        return _usage(ctx, "pending")
    return Reply(card=pending_card(ctx, call.actor))


PAGE_SIZE = 10


def pending_card(
    ctx: Context, actor: Actor, page_token: str = "", page: int = 1, *, skip_empty: bool = False
) -> dict | None:
    """The caller's own todo tasks, one page, each with the buttons the rules allow them.

    With `skip_empty` (the digest), None when there is nothing pending or the query failed."""
    if not actor.open_id:
        return views.notice_card(ctx, refusal_message(Refused("unknown_user"), ctx.locale), tone="warning")
    try:
        result = ctx.feishu.query_tasks(actor.open_id, PAGE_SIZE, page_token)
    except FeishuError as err:
        if skip_empty:
            return None
        return views.notice_card(ctx, user_message(err, ctx.locale), tone="error", log_id=err.log_id)
    if skip_empty and not result.tasks:
        return None
    items = []
    for task in result.tasks:
        items.append(_pending_item(ctx, task, actor))
    return cards.render("pending_list", ctx.locale, items=items, names={}, tz=ctx.config.timezone, page=page,
                        total=result.total, next_page_token=result.next_token)


def _pending_item(ctx: Context, task: dict, actor: Actor) -> dict:
    instance = str(task.get("process_code") or task.get("process_id") or "")
    urls = task.get("urls") if isinstance(task.get("urls"), dict) else None
    item = {
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
        approval = from_instance(ctx.feishu.get_instance(instance), instance, ctx.config.attendance_id_field)
    except (FeishuError, InstanceFormatError):
        return item
    item["approval"] = approval
    item["actions"] = views.buttons_for(ctx, approval, actor)
    return item


def show_history(ctx: Context, call: CommandCall) -> Reply:
    if len(call.args) != 1:
        return _usage(ctx, "history")
    approval_id = call.args[0]
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    if not (call.actor.ids() & ctx.admins):
        try:
            approval = from_instance(ctx.feishu.get_instance(approval_id), approval_id,
                                     ctx.config.attendance_id_field)
        except FeishuError as err:
            if err.code == acting.NOT_FOUND:
                return _refusal(ctx, Refused("not_found", {"id": approval_id}))
            return Reply(card=views.notice_card(ctx, user_message(err, ctx.locale), tone="error",
                                                log_id=err.log_id))
        except InstanceFormatError:
            return _refusal(ctx, Refused("not_found", {"id": approval_id}))
        if not can_view(ctx, approval, call.actor):
            return _refusal(ctx, Refused("not_related"))
    records = ctx.store.history(approval_id)
    names = views.resolve_names(ctx, dict.fromkeys((r.operator, "open_id") for r in records if r.operator))
    rows = [
        {"at_ms": int(r.at * 1000), "operator": names.get(r.operator, r.operator), "action": r.action,
         "outcome": r.outcome, "reason": r.reason, "code": r.code, "log_id": r.log_id}
        for r in records
    ]
    return Reply(card=cards.render("history", ctx.locale, approval_id=approval_id, records=rows,
                                   tz=ctx.config.timezone))
