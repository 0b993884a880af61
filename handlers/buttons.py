"""Card buttons: one function each, registered in `handlers/__init__.py` by the `action` of their callback
value (cards/views.py writes those values). Each returns a `Reply`: a toast and, usually, the new card.

A button of a list card carries the list's page (`list` in its value): its answer is that list again, the item
in its new state, never one approval's card in place of the list."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cards
from cards.messages import user_message
from core.approval import Approval
from core.errors import FeishuError
from core.inbound import CardClick, MessageIn
from core.outcome import Reply, Status
from core.rules import Action
from handlers import card_context, commands, copies, pending
from handlers.chat import CommandCall
from handlers.context import Context
from handlers.workflow import ActionRequest, act


def _reason(click: CardClick) -> str:
    value = click.form_value.get("reason") if click.form_value else ""
    return value.strip() if isinstance(value, str) else ""


def _listed(click: CardClick) -> Mapping[str, Any] | None:
    listed = click.value.get("list")
    return listed if isinstance(listed, Mapping) else None


def _act(ctx: Context, click: CardClick, action: Action) -> Reply:
    approval_id = str(click.value.get("approval_id") or "")
    given = str(click.value.get("approval_type") or "")
    reason = _reason(click)
    if action is Action.REJECT and not reason:  # nothing is sent or locked without one
        return Reply(toast=card_context.toast(ctx, "warning", "refusal.reason_required"))
    view = copies.clicked_view(ctx, click.message_id)
    request = ActionRequest(action, approval_id, click.operator, reason=reason, given_type=given)
    reply = act(ctx, request, clicked_message=click.message_id, private=copies.viewer_of(view) is not None)
    listed = _listed(click)
    if listed is not None:
        return Reply(card=_list_again(ctx, click, listed), toast=reply.toast)
    return Reply(card=reply.card, toast=reply.toast, approval_id=approval_id)


def _list_again(ctx: Context, click: CardClick, listed: Mapping[str, Any],
                fresh: Mapping[str, Approval] | None = None) -> Mapping[str, Any] | None:
    """The clicked list as it now stands: from the items it showed when the store has them (`fresh`: those just
    looked up), else its page asked for again (the value carries it)."""
    view = copies.clicked_view(ctx, click.message_id)
    if view is not None and view.get("kind") in pending.LIST_KINDS:
        return pending.render(ctx, view, fresh).card
    token, page = listed.get("page_token"), listed.get("page")
    reply = pending.list_reply(ctx, click.operator, token if isinstance(token, str) else "",
                               page if isinstance(page, int) and page > 0 else 1)
    if reply is not None:
        copies.remember_sent(ctx, reply, click.message_id)
    return reply.card if reply is not None else None


def approve(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.APPROVE)


def reject(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.REJECT)


def revoke(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.REVOKE)


def approve_all(ctx: Context, click: CardClick) -> Reply:
    """The "approve all shown" button of the /pending card: each request on its own; the list follows."""
    ids = click.value.get("approval_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Reply(toast=card_context.toast(ctx, "error", "toast.unknown_action"))
    outcomes = commands.batch_outcomes(ctx, Action.APPROVE, list(dict.fromkeys(ids)), click.operator,
                                       exclude=click.message_id)
    fresh = {o.approval.instance_code: o.approval for o in outcomes if o.approval is not None}
    done = sum(1 for o in outcomes if o.status is Status.DONE)
    toast = card_context.toast(ctx, "success" if done == len(outcomes) else "warning", "toast.batch",
                               done=done, other=len(outcomes) - done)
    return Reply(card=_list_again(ctx, click, _listed(click) or {}, fresh), toast=toast)


def pending_page(ctx: Context, click: CardClick) -> Reply:
    token = click.value.get("page_token")
    page = click.value.get("page")
    view = copies.clicked_view(ctx, click.message_id)
    reply = pending.list_reply(ctx, click.operator, token if isinstance(token, str) else "",
                               page if isinstance(page, int) and page > 0 else 2,
                               shared=bool(view and view.get("shared")))
    if reply is None:
        return Reply()
    copies.remember_sent(ctx, reply, click.message_id)  # this message now shows the next page
    return Reply(card=reply.card)


def show(ctx: Context, click: CardClick) -> Reply:
    """"Details" on a list item: the full approval card as a reply in the same chat, for the list's reader when
    the list is theirs alone, else shared."""
    approval_id = str(click.value.get("approval_id") or "")
    view = copies.clicked_view(ctx, click.message_id)
    chat_type = "p2p" if copies.viewer_of(view) is not None else "group"
    as_message = MessageIn("", click.message_id, click.chat_id, chat_type, "text", "", click.operator, "user")
    reply = commands.show_approval(ctx, CommandCall("approval", (approval_id,), click.operator, as_message))
    if reply.card is not None and click.message_id:
        try:
            sent = ctx.feishu.reply_card(click.message_id, reply.card)
        except FeishuError as err:
            failed = err
            words = cards.worded(lambda loc: user_message(failed, loc))
            return Reply(toast=card_context.worded_toast(ctx, "error", words))
        copies.remember_sent(ctx, reply, sent)
    return Reply(toast=card_context.toast(ctx, "info", "toast.details"))


