"""Card buttons: one function each, registered in `handlers/__init__.py`. Each returns a `Reply` (toast + card)."""

from __future__ import annotations

import cards
from bot.dispatch import ClickCall, CommandCall, Context, Reply, Toast
from bot.errors import user_message
from bot.feishu import FeishuError
from bot.inbound import MessageIn
from bot.rules import Action
from handlers import acting, commands


def _reason(call: ClickCall) -> str:
    value = call.click.form_value.get("reason") if call.click.form_value else ""
    return value if isinstance(value, str) else ""


def _act(ctx: Context, call: ClickCall, action: Action) -> Reply:
    approval_id = str(call.value.get("approval_id") or "")
    given = str(call.value.get("approval_type") or "")
    message_id = call.click.message_id
    # This message shows the approval: later changes must reach it too (a read first: usually it is known).
    if message_id and message_id not in ctx.store.cards_for(approval_id):
        ctx.store.remember_card(approval_id, message_id, ctx.clock())
    outcome = acting.perform(ctx, action, approval_id, call.actor, reason=_reason(call), given_type=given,
                             exclude_message=call.click.message_id)
    return Reply(card=outcome.card, toast=Toast(outcome.toast_kind, outcome.message), approval_id=approval_id)


def approve(ctx: Context, call: ClickCall) -> Reply:
    return _act(ctx, call, Action.APPROVE)


def reject(ctx: Context, call: ClickCall) -> Reply:
    return _act(ctx, call, Action.REJECT)


def revoke(ctx: Context, call: ClickCall) -> Reply:
    return _act(ctx, call, Action.REVOKE)


def approve_all(ctx: Context, call: ClickCall) -> Reply:
    """The "approve all shown" button of the /pending card: each request on its own, one summary."""
    ids = call.value.get("approval_ids")
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        return Reply(toast=Toast("error", cards.text("toast.unknown_action", ctx.locale)))
    reply = commands._batch(ctx, Action.APPROVE, list(dict.fromkeys(ids)), call.actor)
    return Reply(card=reply.card, toast=Toast("info", cards.text("reply.done", ctx.locale)))


def pending_page(ctx: Context, call: ClickCall) -> Reply:
    token = call.value.get("page_token")
    page = call.value.get("page")
    card = commands.pending_card(ctx, call.actor, token if isinstance(token, str) else "",
                                 page if isinstance(page, int) and page > 0 else 2)
    return Reply(card=card)


def show(ctx: Context, call: ClickCall) -> Reply:
    """"Details" on a list item: the full approval card as a reply in the same chat (shared: state buttons)."""
    approval_id = str(call.value.get("approval_id") or "")
    message = call.click
    as_message = MessageIn("", message.message_id, message.chat_id, "group", "text", "", call.actor, "user")
    reply = commands.show_approval(ctx, CommandCall("approval", (approval_id,), call.actor, as_message))
    if reply.card is not None and message.message_id:
        try:
            sent = ctx.feishu.reply_card(message.message_id, reply.card)
        except FeishuError as err:
            return Reply(toast=Toast("error", user_message(err, ctx.locale)))
        if reply.approval_id and sent:
            ctx.store.remember_card(reply.approval_id, sent, ctx.clock())
    return Reply(toast=Toast("info", cards.text("reply.done", ctx.locale)))

