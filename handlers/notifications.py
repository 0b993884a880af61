"""Cards that follow their approval: every copy already sent is updated, and an approver whose turn it is gets
the card, once per task.

`approval_task` PENDING sends the card to that approver (a claim in the store makes it once per task: Feishu's
message `uuid` dedup lasts only about an hour, and AND nodes re-push PENDING); every other task status and every
`approval_instance` event updates the cards already sent, and pushes no new ones. `update_other_cards` is also
used after the bot's own actions. Updates go out in the pool, off the path of the answer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from core.approval import Approval
from core.errors import FeishuError, StoreUnavailable
from core.inbound import ApprovalEvent
from core.outcome import Reply
from core.records import ClaimResult
from core.rules import Actor, InstanceStatus
from handlers import card_context, copies
from handlers.context import Context
from handlers.lookup import load_approval
from handlers.records import with_record_state

log = logging.getLogger(__name__)


TASK_CARD_LEASE_S = 60.0


def on_approval_event(ctx: Context, event: ApprovalEvent) -> None:
    if not event.instance_code:
        return
    if event.event_type == "approval_task" and event.status.upper() == "PENDING" and event.open_id:
        send_to_approver(ctx, event)
        return
    refresh_approval(ctx, event.instance_code)


def refresh_approval(ctx: Context, instance_code: str) -> None:
    """Update every card already sent for this approval to how it stands now."""
    try:
        approval = load_approval(ctx, instance_code)
    except FeishuError as err:
        log.warning("approval refresh failed: instance=%s code=%s", instance_code, err.code)
        return
    approval = with_record_state(ctx, approval)  # a linked one's record is read once, not once per copy
    # a store failure here fails the event: Feishu delivers it again
    _update_cards(ctx, instance_code, card_context.current_card(ctx, approval), approval=approval)


def send_to_approver(ctx: Context, event: ApprovalEvent) -> None:
    """The approver whose task became PENDING gets the card, with the buttons they may use, once per task."""
    key = f"task-card:{event.task_id or event.instance_code}:{event.open_id}"
    if ctx.store.claim(key, TASK_CARD_LEASE_S, ctx.clock()) is not ClaimResult.NEW:
        return
    approver = Actor(open_id=event.open_id, user_id=event.user_id)  # their own chat: only what they may do
    try:
        approval = load_approval(ctx, event.instance_code)
        if approval.status is not InstanceStatus.PENDING:
            ctx.store.finish(key, ctx.clock())
            return
        mine = card_context.current_card(ctx, approval, approver)
        sent = ctx.feishu.send_card(event.open_id, mine, "open_id", uuid=f"n-{key}"[:50])
    except FeishuError as err:
        ctx.store.release(key)  # Feishu's re-push (or the next PENDING) tries again
        log.warning("notification failed: instance=%s code=%s", event.instance_code, err.code)
        return
    card_context.remember_approvers(ctx, approval)
    copies.remember_sent(ctx, Reply(mine, approval_id=event.instance_code, view=copies.approval_view(approver)),
                         sent)
    ctx.store.finish(key, ctx.clock())


def update_other_cards(ctx: Context, approval_id: str, card: Mapping[str, Any], exclude: str = "",
                       approval: Approval | None = None) -> None:
    """Every other message showing this approval gets the new state (PATCH), in the background; with
    `approval`, each copy rendered for its reader (a list as its list).

    Called once an action is done: a store that cannot be read then costs the other copies their update, never
    the answer that the action was done."""
    try:
        _update_cards(ctx, approval_id, card, exclude, approval)
    except StoreUnavailable as err:
        log.warning("other cards not updated: approval=%s store unavailable: %s", approval_id, err.problem)


def _update_cards(ctx: Context, approval_id: str, card: Mapping[str, Any], exclude: str = "",
                  approval: Approval | None = None) -> None:
    targets = [m for m in ctx.store.cards_for(approval_id) if m and m != exclude]
    if targets:
        ctx.pool.submit(_patch_all, ctx, targets, card, approval)


def _patch_all(ctx: Context, message_ids: list[str], card: Mapping[str, Any], approval: Approval | None) -> None:
    for message_id in message_ids:
        try:
            ctx.feishu.patch_card(message_id, copies.card_for_copy(ctx, message_id, approval, card))
        except FeishuError as err:
            log.warning("card update failed: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)
