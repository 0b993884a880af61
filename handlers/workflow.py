"""The action workflow, shared by buttons and commands: who wants what on which approval, done at most once.

    validate → lock → fresh lookup → rules (state, then role) → intent → process → audit (settles the intent)

The per-approval lock and the fresh lookup under it are why two clicks, a click and a command, or two
workers never send two process calls; the intent row and the reconciler (handlers/maintenance.py) cover a
worker that dies mid-way. A write whose answer was lost is looked up, never re-sent (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from core.approval import Approval
from core.errors import FeishuError
from core.inbound import valid_approval_id
from core.outcome import Outcome, Reply, Status
from core.records import AuditRecord
from core.rules import RULES, Action, Actor, ApprovalType, Refused, check, explain, may_see
from handlers.context import Context
from handlers.lookup import is_not_found, load_approval
from handlers.notifications import update_other_cards
from handlers.replies import present, tell_requester

log = logging.getLogger(__name__)

LOCK_TTL_S = 60.0
CLOCK_MARGIN_S = 2.0  # audit times come from the clocks of several instances
SETTLE_LOOKUPS = 3
SETTLE_PAUSE_S = 1.0
_ALREADY = {"already_approved": Action.APPROVE, "already_rejected": Action.REJECT, "already_revoked": Action.REVOKE}


@dataclass(frozen=True)
class ActionRequest:
    """Who wants what on which approval."""

    action: Action
    approval_id: str
    actor: Actor
    reason: str = ""
    given_type: str = ""  # the type the person named (`/revoke 123 leave`), checked against the approval


def perform(ctx: Context, request: ActionRequest) -> Outcome:
    """Take the action for the actor, at most once, and say what came of it (every attempt is audited).

    Who may not act is refused on a fresh lookup before any lock is taken, so nobody can hold up an approver by
    repeating a command they may not run. Under the lock that lookup is used again unless the bot acted on the
    approval since: then it is looked up once more."""
    request = dataclasses.replace(request, reason=request.reason.strip()[:500])
    if not valid_approval_id(request.approval_id):
        return _refuse(ctx, request, Refused("bad_id", {"id": request.approval_id[:64]}))
    if request.given_type and request.given_type not in ApprovalType.__members__.values():
        return _refuse(ctx, request, Refused("bad_type", {"type": request.given_type[:32]}))
    looked_at = ctx.clock()
    try:
        approval = load_approval(ctx, request.approval_id)
    except FeishuError as err:
        if is_not_found(err):
            return _perform_attendance_only(ctx, request)
        return _fail(ctx, request, err)
    refused = _judge(ctx, request, approval)
    if refused is not None:
        return refused
    return _locked(ctx, request, lambda: _send_fresh(ctx, request, approval, looked_at))


def _locked(ctx: Context, request: ActionRequest, act_now: Callable[[], Outcome]) -> Outcome:
    owner = uuid.uuid4().hex
    lock = f"approval:{request.approval_id}"
    if not ctx.store.acquire_lock(lock, owner, LOCK_TTL_S, ctx.clock()):
        _audit(ctx, request, "busy", message="in flight")
        return Outcome(Status.BUSY, request.action, request.approval_id)
    try:
        return act_now()
    finally:
        ctx.store.release_lock(lock, owner)


def _send_fresh(ctx: Context, request: ActionRequest, approval: Approval, looked_at: float) -> Outcome:
    previous = ctx.store.last_success(request.approval_id)
    if previous is not None and previous.at >= looked_at - CLOCK_MARGIN_S:  # someone acted after our lookup
        try:
            approval = load_approval(ctx, request.approval_id)
        except FeishuError as err:
            return _fail(ctx, request, err)
        refused = _judge(ctx, request, approval)
        if refused is not None:
            return refused
    return _send(ctx, request, approval)


def _judge(ctx: Context, request: ActionRequest, approval: Approval) -> Outcome | None:
    """The refusal, when there is one: not a participant, the wrong type, the rules (state, then role)."""
    if not may_see(request.actor, approval.participants(), ctx.admins):
        return _refuse(ctx, request, Refused("not_found", {"id": request.approval_id[:64]}))  # nothing about it
    given = request.given_type
    if given and approval.approval_type and given != approval.approval_type.value:
        refused = Refused("type_mismatch", {"actual": approval.approval_type.value, "given": given})
        return _refuse(ctx, request, refused, approval)
    verdict = check(request.action, approval.approval_type, approval.status, request.actor, approval.roles(),
                    ctx.admins)
    if isinstance(verdict, Refused):
        return _refuse(ctx, request, verdict, approval)
    return None


def _send(ctx: Context, request: ActionRequest, approval: Approval) -> Outcome:
    rule = RULES[request.action]
    assert approval.approval_type is not None  # check() refused read-only approvals
    intent = uuid.uuid4().hex
    ctx.store.record_intent(intent, approval.instance_code, request.action.value, _operator(request.actor),
                            ctx.clock(), {"attendance_id": approval.attendance_id, "reason": request.reason})
    try:
        result = ctx.feishu.process(approval.attendance_id, approval.approval_type.value, rule.process_status)
        log_id = str(result.get("log_id", ""))
    except FeishuError as err:
        if not (err.outcome_unknown and _reached(ctx, approval.instance_code, rule.results_in.value)):
            return _fail(ctx, request, err, approval, intent=intent)
        log_id = err.log_id  # applied, answer lost: the fresh lookup says it is done
    now = ctx.clock()
    _audit(ctx, request, "done", approval_type=approval.approval_type.value, log_id=log_id, at=now, intent=intent)
    final = dataclasses.replace(approval, status=rule.results_in, raw_status=rule.results_in.value)
    return Outcome(Status.DONE, request.action, approval.instance_code, final, at=now, reason=request.reason,
                   approval_type=approval.approval_type.value, actor=request.actor, log_id=log_id)


def _reached(ctx: Context, instance_code: str, target: str) -> bool:
    """After a timeout or 5xx the write may have been applied, or still be in flight: look a few times."""
    for attempt in range(SETTLE_LOOKUPS):
        if attempt:
            ctx.sleep(SETTLE_PAUSE_S)
        try:
            data = ctx.feishu.get_instance(instance_code)
        except FeishuError:
            continue
        if str(data.get("status", "")).upper() == target:
            return True
    return False


def _perform_attendance_only(ctx: Context, request: ActionRequest) -> Outcome:
    """No approval instance (an attendance-only tenant): admins act on the attendance id directly."""
    action = request.action
    if not (request.actor.ids() & ctx.admins):  # the same answer as for an approval that is not theirs
        return _refuse(ctx, request, Refused("not_found", {"id": request.approval_id[:64]}))
    if not request.given_type and action is Action.REVOKE:
        return _refuse(ctx, request, Refused("type_required"), attendance_only=True)
    approval_type = ApprovalType(request.given_type or ApprovalType.REMEDY.value)
    if approval_type not in RULES[action].types:
        return _refuse(ctx, request, explain(approval_type), attendance_only=True)
    return _locked(ctx, request, lambda: _process_attendance_id(ctx, request, approval_type))


def _process_attendance_id(ctx: Context, request: ActionRequest, approval_type: ApprovalType) -> Outcome:
    action = request.action
    try:
        result = ctx.feishu.process(request.approval_id, approval_type.value, RULES[action].process_status)
    except FeishuError as err:
        return _fail(ctx, request, err, attendance_only=True, approval_type=approval_type.value)
    now = ctx.clock()
    log_id = str(result.get("log_id", ""))
    _audit(ctx, request, "done", approval_type=approval_type.value, log_id=log_id, at=now)
    return Outcome(Status.DONE, action, request.approval_id, at=now, reason=request.reason,
                   approval_type=approval_type.value, attendance_only=True, actor=request.actor, log_id=log_id)


def _refuse(ctx: Context, request: ActionRequest, refused: Refused, approval: Approval | None = None, *,
            attendance_only: bool = False) -> Outcome:
    if refused.key in _ALREADY and approval is not None:
        previous = ctx.store.last_success(request.approval_id)
        if previous is not None and previous.action == _ALREADY[refused.key].value:
            return _already_done(ctx, request, previous, approval)
    _audit(ctx, request, "refused", message=refused.key)
    return Outcome(Status.REFUSED, request.action, request.approval_id, approval, refused=refused,
                   attendance_only=attendance_only)


def _already_done(ctx: Context, request: ActionRequest, previous: AuditRecord, approval: Approval) -> Outcome:
    """The second click after success: say who did it, without calling Feishu."""
    _audit(ctx, request, "refused", message="already_done")
    target = RULES[Action(previous.action)].results_in
    final = dataclasses.replace(approval, status=target, raw_status=target.value)
    return Outcome(Status.ALREADY, request.action, request.approval_id, final, previous=previous)


def _fail(ctx: Context, request: ActionRequest, err: FeishuError, approval: Approval | None = None, *,
          attendance_only: bool = False, approval_type: str = "", intent: str = "") -> Outcome:
    log.warning("feishu call failed: action=%s approval=%s code=%s kind=%s log_id=%s",
                request.action.value, request.approval_id, err.code, err.kind, err.log_id)
    _audit(ctx, request, "failed", approval_type=approval_type, code=err.code, log_id=err.log_id,
           message=err.kind, intent=intent)
    return Outcome(Status.FAILED, request.action, request.approval_id, approval, error=err,
                   approval_type=approval_type, attendance_only=attendance_only, log_id=err.log_id)


def _operator(actor: Actor) -> str:
    return actor.open_id or actor.user_id


def _audit(ctx: Context, request: ActionRequest, outcome: str, *, approval_type: str = "", code: int | None = None,
           log_id: str = "", message: str = "", at: float | None = None, intent: str = "") -> None:
    """Written before the answer is sent; with `intent`, the intent is settled in the same transaction."""
    ctx.store.append_audit(AuditRecord(
        approval_id=request.approval_id, action=request.action.value, operator=_operator(request.actor),
        outcome=outcome, approval_type=approval_type, reason=request.reason, code=code, log_id=log_id,
        message=message, at=at if at is not None else ctx.clock(),
    ), settles=intent)


def act(ctx: Context, request: ActionRequest, *, clicked_message: str = "", as_message: bool = False,
        private: bool = False) -> Reply:
    """Perform, then say so; when done, every other copy of the card follows (the clicked one is the answer)
    and the requester is told. `private`: the answer is seen by the actor alone (their buttons only)."""
    outcome = perform(ctx, request)
    reply = present(ctx, outcome, as_message=as_message, viewer=request.actor if private else None)
    if outcome.status is Status.DONE and outcome.approval is not None and reply.card is not None:
        update_other_cards(ctx, outcome.approval.instance_code, reply.card, exclude=clicked_message,
                           approval=outcome.approval)
    tell_requester(ctx, outcome)
    return reply
