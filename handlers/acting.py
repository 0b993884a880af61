"""The single action workflow, shared by buttons and commands.

lock → fresh lookup → rules (state, then role) → intent → process → audit → final card.
The per-approval lock and the fresh lookup under it are why two clicks, a click and a command, or two
workers never send two process calls; the intent row and the reconciler cover a worker that dies mid-way.
"""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import cards
from bot.approvals import Approval, InstanceFormatError, from_instance
from bot.dispatch import Context
from bot.errors import refusal_message, user_message
from bot.feishu import FeishuError
from bot.inbound import valid_approval_id
from bot.rules import RULES, Action, Actor, ApprovalType, Refused, check, explain
from bot.store import AuditRecord
from handlers import views

log = logging.getLogger(__name__)

LOCK_TTL_S = 60.0
SETTLE_LOOKUPS = 3
SETTLE_PAUSE_S = 1.0
NOT_FOUND = 1390003
_OUTCOME_TOAST = {Action.APPROVE: "toast.approved", Action.REJECT: "toast.rejected", Action.REVOKE: "toast.revoked"}
_ALREADY = {"already_approved": Action.APPROVE, "already_rejected": Action.REJECT, "already_revoked": Action.REVOKE}


@dataclass(frozen=True)
class Outcome:
    status: str  # done | refused | failed | busy
    action: Action
    approval_id: str
    message: str
    card: dict[str, Any] | None = None
    approval: Approval | None = None
    log_id: str = ""

    @property
    def toast_kind(self) -> str:
        return {"done": "success", "refused": "warning", "busy": "info"}.get(self.status, "error")


def perform(
    ctx: Context,
    action: Action,
    approval_id: str,
    actor: Actor,
    *,
    reason: str = "",
    given_type: str = "",
    exclude_message: str = "",
) -> Outcome:
    """Take `action` on `approval_id` for `actor`, at most once, and say what happened."""
    reason = reason.strip()[:500]
    if not valid_approval_id(approval_id):
        return _refuse(ctx, action, approval_id, actor, Refused("bad_id", {"id": approval_id[:64]}), reason)
    if given_type and given_type not in ApprovalType.__members__.values():
        return _refuse(ctx, action, approval_id, actor, Refused("bad_type", {"type": given_type[:32]}), reason)
    owner = uuid.uuid4().hex
    lock = f"approval:{approval_id}"
    if not ctx.store.acquire_lock(lock, owner, LOCK_TTL_S, ctx.clock()):
        text = cards.text("toast.busy", ctx.locale)
        _audit(ctx, action, approval_id, actor, "busy", reason=reason, message="in flight")
        return Outcome("busy", action, approval_id, text)
    try:
        return _perform_locked(ctx, action, approval_id, actor, reason, given_type, exclude_message)
    finally:
        ctx.store.release_lock(lock, owner)


def _perform_locked(
    ctx: Context, action: Action, approval_id: str, actor: Actor, reason: str, given_type: str, exclude: str
) -> Outcome:
    try:
        approval = from_instance(ctx.feishu.get_instance(approval_id), approval_id, ctx.config.attendance_id_field)
    except FeishuError as err:
        if err.code == NOT_FOUND:
            return _perform_attendance_only(ctx, action, approval_id, actor, reason, given_type)
        return _fail(ctx, action, approval_id, actor, err, reason)
    except InstanceFormatError:
        err = FeishuError(-1, "unreadable instance", kind="server")
        return _fail(ctx, action, approval_id, actor, err, reason)

    if given_type and approval.approval_type and given_type != approval.approval_type.value:
        refused = Refused("type_mismatch", {"actual": approval.approval_type.value, "given": given_type})
        return _refuse(ctx, action, approval_id, actor, refused, reason, approval)
    verdict = check(action, approval.approval_type, approval.status, actor, approval.roles(), ctx.admins)
    if isinstance(verdict, Refused):
        return _refuse(ctx, action, approval_id, actor, verdict, reason, approval)
    return _send(ctx, action, approval, actor, reason, exclude)


def _send(ctx: Context, action: Action, approval: Approval, actor: Actor, reason: str, exclude: str) -> Outcome:
    rule = RULES[action]
    assert approval.approval_type is not None  # check() refused read-only approvals
    intent = uuid.uuid4().hex
    ctx.store.record_intent(intent, approval.instance_code, action.value, actor.open_id or actor.user_id,
                            ctx.clock(), {"attendance_id": approval.attendance_id, "reason": reason})
    log_id = ""
    try:
        result = ctx.feishu.process(approval.attendance_id, approval.approval_type.value, rule.process_status)
        log_id = result.get("log_id", "")
    except FeishuError as err:
        if not (err.outcome_unknown and _reached(ctx, approval.instance_code, rule.results_in.value)):
            return _fail(ctx, action, approval.instance_code, actor, err, reason, approval, intent=intent)
        log_id = err.log_id  # applied, answer lost: the fresh lookup says it is done
    now = ctx.clock()
    _audit(ctx, action, approval.instance_code, actor, "done", approval_type=approval.approval_type.value,
           reason=reason, log_id=log_id, at=now, intent=intent)
    final = dataclasses.replace(approval, status=rule.results_in, raw_status=rule.results_in.value)
    outcome = {"action": action.value, "operator": views.display_name(ctx, actor), "at_ms": int(now * 1000),
               "reason": reason}
    card = views.approval_card(ctx, final, outcome=outcome)
    update_other_cards(ctx, approval.instance_code, card, exclude)
    return Outcome("done", action, approval.instance_code, cards.text(_OUTCOME_TOAST[action], ctx.locale), card,
                   final, log_id)


def _reached(ctx: Context, instance_code: str, target: str) -> bool:
    """After a timeout or 5xx the write may have been applied: look before deciding, never resend blindly.

    A write that timed out may still be in flight at Feishu, so look a few times before calling it failed.
    """
    for attempt in range(SETTLE_LOOKUPS):
        if attempt:
            time.sleep(SETTLE_PAUSE_S)
        try:
            data = ctx.feishu.get_instance(instance_code)
        except FeishuError:
            continue
        if str(data.get("status", "")).upper() == target:
            return True
    return False


def _perform_attendance_only(
    ctx: Context, action: Action, approval_id: str, actor: Actor, reason: str, given_type: str
) -> Outcome:
    """No approval instance (attendance-only tenant): admins act on the attendance id directly."""
    if not (actor.ids() & ctx.admins):
        refused = Refused("attendance_only_admin")
        return _refuse(ctx, action, approval_id, actor, refused, reason, attendance_only=True)
    if not given_type and action is Action.REVOKE:
        return _refuse(ctx, action, approval_id, actor, Refused("type_required"), reason, attendance_only=True)
    approval_type = ApprovalType(given_type or ApprovalType.REMEDY.value)
    if approval_type not in RULES[action].types:
        return _refuse(ctx, action, approval_id, actor, explain(approval_type), reason, attendance_only=True)
    try:
        result = ctx.feishu.process(approval_id, approval_type.value, RULES[action].process_status)
    except FeishuError as err:
        return _fail(ctx, action, approval_id, actor, err, reason, attendance_only=True,
                     approval_type=approval_type.value)
    now = ctx.clock()
    _audit(ctx, action, approval_id, actor, "done", approval_type=approval_type.value, reason=reason,
           log_id=result.get("log_id", ""), at=now)
    outcome = {"action": action.value, "operator": views.display_name(ctx, actor), "at_ms": int(now * 1000),
               "reason": reason}
    card = cards.render("attendance_only", ctx.locale, approval_id=approval_id, approval_type=approval_type.value,
                        actions=(), outcome=outcome, notice=None)
    return Outcome("done", action, approval_id, cards.text(_OUTCOME_TOAST[action], ctx.locale), card,
                   log_id=result.get("log_id", ""))


def _refuse(
    ctx: Context, action: Action, approval_id: str, actor: Actor, refused: Refused, reason: str,
    approval: Approval | None = None, *, attendance_only: bool = False,
) -> Outcome:
    if refused.key in _ALREADY and approval is not None:
        previous = ctx.store.last_success(approval_id)
        if previous is not None and previous.action == _ALREADY[refused.key].value:
            return _already_done(ctx, action, approval_id, actor, previous, reason, approval)
    text = refusal_message(refused, ctx.locale)
    _audit(ctx, action, approval_id, actor, "refused", reason=reason, message=refused.key)
    card = None
    if approval is not None:
        card = views.approval_card(ctx, approval, notice=text)
    elif attendance_only:
        card = cards.render("attendance_only", ctx.locale, approval_id=approval_id, approval_type=None,
                            actions=(), outcome=None, notice=text)
    return Outcome("refused", action, approval_id, text, card, approval)


def _already_done(
    ctx: Context, action: Action, approval_id: str, actor: Actor, previous: AuditRecord, reason: str,
    approval: Approval,
) -> Outcome:
    """The second click after success: say who did it, without calling Feishu."""
    name = ctx.feishu.user_name(previous.operator, "open_id", ctx.locale) or previous.operator
    when = _clock_text(ctx, previous.at)
    text = cards.text("toast.already_done", ctx.locale, action=cards.text(f"action.{previous.action}", ctx.locale),
                      name=name, time=when)
    _audit(ctx, action, approval_id, actor, "refused", reason=reason, message="already_done")
    target = RULES[Action(previous.action)].results_in
    final = dataclasses.replace(approval, status=target, raw_status=target.value) if approval else None
    outcome = {"action": previous.action, "operator": name, "at_ms": int(previous.at * 1000),
               "reason": previous.reason}
    card = views.approval_card(ctx, final, outcome=outcome) if final is not None else None
    return Outcome("refused", action, approval_id, text, card, final)


def _fail(
    ctx: Context, action: Action, approval_id: str, actor: Actor, err: FeishuError, reason: str,
    approval: Approval | None = None, *, attendance_only: bool = False, approval_type: str = "", intent: str = "",
) -> Outcome:
    text = user_message(err, ctx.locale)
    log.warning("feishu call failed: action=%s approval=%s code=%s kind=%s log_id=%s",
                action.value, approval_id, err.code, err.kind, err.log_id)
    _audit(ctx, action, approval_id, actor, "failed", approval_type=approval_type, reason=reason, code=err.code,
           log_id=err.log_id, message=err.kind, intent=intent)
    card = None
    if approval is not None:
        card = views.approval_card(ctx, approval, notice=text)
    elif attendance_only:
        card = cards.render("attendance_only", ctx.locale, approval_id=approval_id,
                            approval_type=approval_type or None, actions=(), outcome=None, notice=text)
    return Outcome("failed", action, approval_id, text, card, approval, err.log_id)


def _audit(
    ctx: Context, action: Action, approval_id: str, actor: Actor, outcome: str, *, approval_type: str = "",
    reason: str = "", code: int | None = None, log_id: str = "", message: str = "", at: float | None = None,
    intent: str = "",
) -> None:
    """Written before the answer is sent; with `intent`, the intent is settled in the same transaction."""
    ctx.store.append_audit(AuditRecord(
        approval_id=approval_id, action=action.value, operator=actor.open_id or actor.user_id, outcome=outcome,
        approval_type=approval_type, reason=reason, code=code, log_id=log_id, message=message,
        at=at if at is not None else ctx.clock(),
    ), settles=intent)


def _clock_text(ctx: Context, at: float) -> str:
    return datetime.fromtimestamp(at, ZoneInfo(ctx.config.timezone)).strftime("%Y-%m-%d %H:%M")


def update_other_cards(ctx: Context, approval_id: str, card: dict[str, Any], exclude: str = "") -> None:
    """Every other message showing this approval gets the new state (PATCH), in the background."""
    targets = [m for m in ctx.store.cards_for(approval_id) if m and m != exclude]
    if targets:
        ctx.pool.submit(_patch_all, ctx, targets, card)


def _patch_all(ctx: Context, message_ids: list[str], card: dict[str, Any]) -> None:
    for message_id in message_ids:
        try:
            ctx.feishu.patch_card(message_id, card)
        except FeishuError as err:
            log.warning("card update failed: message=%s code=%s log_id=%s", message_id, err.code, err.log_id)

