"""Cards that follow their approval: every copy already sent is updated, and new approvers get the card.

`on_approval_event` handles an approval changed in Feishu; `update_other_cards` is also used after the bot's
own actions. Updates go out in the pool, off the path of the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.errors import FeishuError, StoreUnavailable
from core.inbound import ApprovalEvent
from core.rules import InstanceStatus
from handlers import card_context
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
    _update_cards(ctx, instance_code, card)  # a store failure here fails the event: Feishu delivers it again
    if approval.status is not InstanceStatus.PENDING:
        return
    card_context.remember_approvers(ctx, approval)
    for task in approval.tasks:
        if task.status.upper() != "PENDING" or not task.open_id:
            continue
        try:
            sent = ctx.feishu.send_card(task.open_id, card, "open_id", uuid=f"n-{task.id or instance_code}")
        except FeishuError as err:
            log.warning("notification failed: instance=%s code=%s", instance_code, err.code)
            continue
        if sent:
            ctx.store.remember_card(instance_code, sent, ctx.clock())


def update_other_cards(ctx: Context, approval_id: str, card: Mapping[str, Any], exclude: str = "") -> None:
    """Every other message showing this approval gets the new state (PATCH), in the background.

    Called once an action is done: a store that cannot be read then costs the other copies their update, never
    the answer that the action was done."""
    try:
        _update_cards(ctx, approval_id, card, exclude)
    except StoreUnavailable as err:
        log.warning("other cards not updated: approval=%s store unavailable: %s", approval_id, err.problem)


def _update_cards(ctx: Context, approval_id: str, card: Mapping[str, Any], exclude: str = "") -> None:
    targets = [m for m in ctx.store.cards_for(approval_id) if m and m != exclude]
    if targets:
        ctx.pool.submit(_patch_all, ctx, targets, card)


def _patch_all(ctx: Context, message_ids: list[str], card: Mapping[str, Any]) -> None:
    for message_id in message_ids:
        try:
            ctx.feishu.patch_card(message_id, card)
        except FeishuError as err:
            log.warning("card update failed: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)
