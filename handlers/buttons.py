"""Card buttons: one function each, registered in `handlers/__init__.py` by the `action` of their callback
value (cards/views.py writes those values). Each returns a `Reply`: a toast and, usually, the new card."""

from __future__ import annotations

import cards
from cards.messages import user_message
from core.errors import FeishuError
from core.inbound import CardClick, MessageIn
from core.outcome import Reply, Toast
from core.rules import Action
from handlers import commands
from handlers.chat import CommandCall
from handlers.context import Context
from handlers.workflow import ActionRequest, act


def _reason(click: CardClick) -> str:
    value = click.form_value.get("reason") if click.form_value else ""
    return value if isinstance(value, str) else ""


def _act(ctx: Context, click: CardClick, action: Action) -> Reply:
    approval_id = str(click.value.get("approval_id") or "")
    given = str(click.value.get("approval_type") or "")
    request = ActionRequest(action, approval_id, click.operator, reason=_reason(click), given_type=given)
    reply = act(ctx, request, clicked_message=click.message_id)
    return Reply(card=reply.card, toast=reply.toast, approval_id=approval_id)


def approve(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.APPROVE)


def reject(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.REJECT)


def revoke(ctx: Context, click: CardClick) -> Reply:
    return _act(ctx, click, Action.REVOKE)


def approve_all(ctx: Context, click: CardClick) -> Reply:
    """The "approve all shown" button of the /pending card: each request on its own, one summary."""
    ids = click.value.get("approval_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Reply(toast=Toast("error", cards.text("toast.unknown_action", ctx.locale)))
    reply = commands.batch(ctx, Action.APPROVE, list(dict.fromkeys(ids)), click.operator)
    return Reply(card=reply.card, toast=Toast("info", cards.text("reply.done", ctx.locale)))


def pending_page(ctx: Context, click: CardClick) -> Reply:
    token = click.value.get("page_token")
    page = click.value.get("page")
    card = commands.pending_card(ctx, click.operator, token if isinstance(token, str) else "",
                                 page if isinstance(page, int) and page > 0 else 2)
    return Reply(card=card)


def show(ctx: Context, click: CardClick) -> Reply:
    """"Details" on a list item: the full approval card as a reply in the same chat (shared: state buttons)."""
    approval_id = str(click.value.get("approval_id") or "")
    as_message = MessageIn("", click.message_id, click.chat_id, "group", "text", "", click.operator, "user")
    reply = commands.show_approval(ctx, CommandCall("approval", (approval_id,), click.operator, as_message))
    if reply.card is not None and click.message_id:
        try:
            sent = ctx.feishu.reply_card(click.message_id, reply.card)
        except FeishuError as err:
            return Reply(toast=Toast("error", user_message(err, ctx.locale)))
        if reply.approval_id and sent:
            ctx.store.remember_card(reply.approval_id, sent, ctx.clock())
    return Reply(toast=Toast("info", cards.text("reply.done", ctx.locale)))
