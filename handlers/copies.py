"""Card copies: every message the bot sent that shows an approval, who it was sent to, and what it shows.

A copy in a one-to-one chat shows what its reader may do; a copy in a group shows the state and who may act
(DESIGN.md, "Events and subscriptions"). A list card shows several approvals and is rendered again as that
list. The store keeps, per message, a view: ``{"kind": "approval" | "pending", "recipient", "shared", …}``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from core.approval import Approval
from core.errors import FeishuError
from core.outcome import Reply
from core.rules import Actor
from handlers import card_context, pending
from handlers.context import Context

log = logging.getLogger(__name__)


def approval_view(recipient: Actor | None) -> dict[str, Any]:
    """The view of an approval card: for `recipient` alone, or (None) shared by a group."""
    return {"kind": "approval", "recipient": recipient.open_id if recipient else "", "shared": recipient is None}


def viewer_of(view: Mapping[str, Any] | None) -> Actor | None:
    """Whose buttons a copy shows: its one reader, or None for a shared (group) copy or an unknown one."""
    if not view or view.get("shared") or not view.get("recipient"):
        return None
    return Actor(open_id=str(view["recipient"]))


def clicked_view(ctx: Context, message_id: str) -> dict[str, Any] | None:
    """The view of the clicked message: the one the pipeline read with the claim, else from the store."""
    delivery = ctx.delivery
    if delivery is not None and delivery.message_id == message_id:
        return delivery.view
    return ctx.store.copy_of(message_id) if message_id else None


def remember_sent(ctx: Context, reply: Reply, message_id: str) -> None:
    """`message_id` shows the reply's approvals: later changes to any of them reach it, rendered for its reader."""
    if not message_id:
        return
    now = ctx.clock()
    for approval_id in dict.fromkeys(a for a in (reply.approval_id, *reply.shows) if a):
        ctx.store.remember_card(approval_id, message_id, now)
    if reply.view is not None:
        ctx.store.remember_copy(message_id, reply.view, now)


def card_for_copy(ctx: Context, message_id: str, approval: Approval | None,
                  card: Mapping[str, Any]) -> Mapping[str, Any]:
    """The card `message_id` should now show: its list again, or `approval` for its reader; `card` (the shared
    card) for a copy the store knows nothing more about."""
    view = ctx.store.copy_of(message_id)
    if view is None or approval is None:
        return card
    return _render(ctx, view, {approval.instance_code: approval}, approval) or card


def _render(ctx: Context, view: Mapping[str, Any], fresh: Mapping[str, Approval],
            approval: Approval) -> Mapping[str, Any] | None:
    if view.get("kind") in pending.LIST_KINDS:
        return pending.render(ctx, view, fresh=fresh).card
    return card_context.current_card(ctx, approval, viewer_of(view))


def update_all(ctx: Context, approvals: Sequence[Approval], exclude: str = "") -> None:
    """After several approvals changed at once ("approve all shown"): every message showing any of them is
    rendered once, for its reader, in the background (a list of ten is not rendered ten times over)."""
    fresh = {a.instance_code: a for a in approvals}
    shown: dict[str, Approval] = {}
    for approval in approvals:
        for message_id in ctx.store.cards_for(approval.instance_code):
            if message_id and message_id != exclude:
                shown.setdefault(message_id, approval)
    if shown:
        ctx.pool.submit(_patch_each, ctx, shown, fresh)


def _patch_each(ctx: Context, shown: Mapping[str, Approval], fresh: Mapping[str, Approval]) -> None:
    for message_id, approval in shown.items():
        view = ctx.store.copy_of(message_id)
        card = (_render(ctx, view, fresh, approval) if view is not None
                else card_context.current_card(ctx, approval))
        try:
            ctx.feishu.patch_card(message_id, card)
        except FeishuError as err:
            log.warning("card update failed: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)
