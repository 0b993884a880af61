"""Cards that follow their approval: every copy already sent is updated, and new approvers get the card.

`on_approval_event` handles an approval changed in Feishu; `update_other_cards` is also used after the bot's
own actions. Updates go out in the pool, off the path of the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.approval import Approval
from core.errors import FeishuError
from core.inbound import ApprovalEvent
from core.outcome import Reply
from core.rules import Actor, InstanceStatus
from handlers import card_context, copies
from handlers.context import Context
from handlers.lookup import load_approval

log = logging.getLogger(__name__)


def on_approval_event(ctx: Context, event: ApprovalEvent) -> None:
    if event.instance_code:
        refresh_approval(ctx, event.instance_code)


def refresh_approval(ctx: Context, instance_code: str) -> None:
    """Update every card already sent for this approval; push a card to approvers who now have a task."""
    try:
        approval = load_approval(ctx, instance_code)
    except FeishuError as err:
        log.warning("approval refresh failed: instance=%s code=%s", instance_code, err.code)
        return
    card = card_context.current_card(ctx, approval)
    update_other_cards(ctx, instance_code, card, approval=approval)
    if approval.status is not InstanceStatus.PENDING:
        return
    card_context.remember_approvers(ctx, approval)
    for task in approval.tasks:
        if task.status.upper() != "PENDING" or not task.open_id:
            continue
        approver = Actor(open_id=task.open_id)  # their own chat: only what they may do
        mine = card_context.current_card(ctx, approval, approver)
        try:
            sent = ctx.feishu.send_card(task.open_id, mine, "open_id", uuid=f"n-{task.id or instance_code}")
        except FeishuError as err:
            log.warning("notification failed: instance=%s code=%s", instance_code, err.code)
            continue
        copies.remember_sent(ctx, Reply(mine, approval_id=instance_code, view=copies.approval_view(approver)), sent)


def update_other_cards(ctx: Context, approval_id: str, card: Mapping[str, Any], exclude: str = "",
                       approval: Approval | None = None) -> None:
    """Every other message showing this approval gets the new state (PATCH), in the background; with
    `approval`, each copy rendered for its reader (a list as its list)."""
    targets = [m for m in ctx.store.cards_for(approval_id) if m and m != exclude]
    if targets:
        ctx.pool.submit(_patch_all, ctx, targets, card, approval)


def _patch_all(ctx: Context, message_ids: list[str], card: Mapping[str, Any], approval: Approval | None) -> None:
    for message_id in message_ids:
        try:
            ctx.feishu.patch_card(message_id, copies.card_for_copy(ctx, message_id, approval, card))
        except FeishuError as err:
            log.warning("card update failed: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)
