"""The action workflow, shared by buttons and commands: who wants what on which approval, done at most once.

    validate → fresh lookup → rules (state, then role) → [lock + last success + intent] → the task or process
    call → [audit + intent settled + unlock + the click's claim done]

Each bracket is one store transaction (`Store.begin_action`, `Store.end_action`); none is open across the
Feishu call. The per-approval lock, and the lookup checked under it against the last success (looked up again
when someone acted since), are why two clicks, a click and a command, or two workers never send two calls;
the intent row and the reconciler (handlers/maintenance.py) cover a worker that dies mid-way. A write whose
answer was lost is looked up, never re-sent (docs/architecture.md).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from core.approval import Approval
from core.attendance import AttendanceRecord
from core.errors import FeishuError, StoreUnavailable
from core.inbound import valid_approval_id
from core.outcome import Outcome, Reply, Status
from core.records import AuditRecord, Intent
from core.rules import (
    RULES,
    Action,
    Actor,
    ApprovalType,
    InstanceStatus,
    Kind,
    Refused,
    Roles,
    check_kind,
    explain,
    may_see,
)
from handlers import records, team
from handlers.context import Context
from handlers.lookup import is_not_found, load_approval
from handlers.notifications import update_other_cards
from handlers.records import find_linked_record, in_state
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
        request, approval = _look_up(ctx, request)
    except FeishuError as err:
        if is_not_found(err):
            return _perform_attendance_only(ctx, request)
        return _fail(ctx, request, err)
    try:
        refused, record = _judge(ctx, request, approval)
    except FeishuError as err:
        return _fail(ctx, request, err, approval)
    if refused is not None:
        return refused
    return _begin(ctx, request, approval, looked_at)


@dataclass
class _Held:
    """The approval's lock while an action runs, and the delivery whose claim the last transaction may settle."""

    name: str
    owner: str
    claim: str = ""  # a card click's claim key (marked done with the audit row), "" for anything else
    released: bool = False


def _begin(ctx: Context, request: ActionRequest, approval: Approval, looked_at: float) -> Outcome:
    """Lock, last success and intent in one store transaction; the Feishu call; audit, intent, lock and the
    click's claim in another (docs/architecture.md, "The path of one click"). Someone who acted after our
    lookup makes us look again under the lock, and write the intent on its own."""
    detail = _detail(request, approval)
    if isinstance(detail, Refused):
        return _refuse(ctx, request, detail, approval)
    delivery = ctx.delivery
    held = _Held(f"approval:{request.approval_id}", uuid.uuid4().hex,
                 delivery.key if delivery is not None and not delivery.settled else "")
    intent = Intent(uuid.uuid4().hex, approval.instance_code, request.action.value, _operator(request.actor),
                    {**detail, "reason": request.reason})
    start = ctx.store.begin_action(held.name, held.owner, LOCK_TTL_S, ctx.clock(), intent,
                                   looked_at - CLOCK_MARGIN_S)
    if not start.locked:
        _audit(ctx, request, "busy", message="in flight")
        return Outcome(Status.BUSY, request.action, request.approval_id)
    try:
        if not start.intent_written:
            return _send_looked_again(ctx, request, held, approval.kind)
        return _send(ctx, request, approval, intent.intent_id, held)
    finally:
        if not held.released:
            _release_lock(ctx, held.name, held.owner)


def _detail(request: ActionRequest, approval: Approval) -> dict[str, str] | Refused:
    """What the intent records of the call about to be made: the task (native) or the attendance record."""
    if approval.kind is Kind.NATIVE:
        task = approval.pending_task_of(request.actor.ids())
        if task is None or not request.actor.open_id:  # the rules checked it; the task ids come from the lookup
            return Refused("not_your_task")
        return {"kind": Kind.NATIVE.value, "task_id": task.id}
    assert approval.approval_type is not None  # the rules refused read-only approvals
    return {"kind": approval.kind.value, "attendance_id": approval.attendance_id,
            "approval_type": approval.approval_type.value}


def _send_looked_again(ctx: Context, request: ActionRequest, held: _Held, kind: Kind) -> Outcome:
    try:
        approval = _load(ctx, request.approval_id, kind)
        refused, _record = _judge(ctx, request, approval)
    except FeishuError as err:
        return _fail(ctx, request, err)
    if refused is not None:
        return refused
    detail = _detail(request, approval)
    if isinstance(detail, Refused):
        return _refuse(ctx, request, detail, approval)
    intent = _intent(ctx, request, approval, detail)
    return _send(ctx, request, approval, intent, held)


def _send(ctx: Context, request: ActionRequest, approval: Approval, intent: str, held: _Held) -> Outcome:
    if approval.kind is Kind.NATIVE:
        return _send_task(ctx, request, approval, intent, held)
    return _send_process(ctx, request, approval, intent, held)


def _locked(ctx: Context, request: ActionRequest, act_now: Callable[[], Outcome]) -> Outcome:
    owner = uuid.uuid4().hex
    lock = f"approval:{request.approval_id}"
    if not ctx.store.acquire_lock(lock, owner, LOCK_TTL_S, ctx.clock()):
        _audit(ctx, request, "busy", message="in flight")
        return Outcome(Status.BUSY, request.action, request.approval_id)
    try:
        return act_now()
    finally:
        _release_lock(ctx, lock, owner)


def _release_lock(ctx: Context, lock: str, owner: str) -> None:
    try:
        ctx.store.release_lock(lock, owner)
    except StoreUnavailable as err:  # the lock expires by itself; the outcome must still reach the person
        log.warning("lock not released: %s store unavailable: %s", lock, err.problem)


def _look_up(ctx: Context, request: ActionRequest) -> tuple[ActionRequest, Approval]:
    """A record the bot has found, asked for again; else the instance; else, for a number no instance has, the
    record among the actor's team's records (then remembered). The actor gains their contact user_id for a
    record: its leaders are known by user_id."""
    approval_id = request.approval_id
    # attendance record ids are numbers, instance codes are not (docs/feishu.md): only a number costs a store read
    if not approval_id.isdigit() or ctx.store.record_ref(approval_id) is None:
        try:
            return request, load_approval(ctx, approval_id)
        except FeishuError as err:
            if not (is_not_found(err) and approval_id.isdigit() and records.found_in_team(ctx, request.actor,
                                                                                          approval_id)):
                raise
    request = dataclasses.replace(request, actor=team.with_user_id(ctx, request.actor))
    return request, _load(ctx, approval_id, Kind.ATTENDANCE)


class RecordGone(FeishuError):
    """A remembered attendance record attendance no longer lists (its requester's records around its day)."""


def _load(ctx: Context, approval_id: str, kind: Kind) -> Approval:
    """The approval afresh: an attendance record from attendance (its requester and day), else the instance."""
    if kind is not Kind.ATTENDANCE:
        return load_approval(ctx, approval_id)
    found = records.load_record(ctx, approval_id)
    if found is None:
        raise RecordGone(1390003, "attendance record not found")  # answered as an unknown id is
    return found


def _judge(ctx: Context, request: ActionRequest, approval: Approval) -> tuple[Outcome | None,
                                                                              AttendanceRecord | None]:
    """The refusal, when there is one: not a participant, the wrong type, the kind's rules (state, then role).
    A linked approval's state is its attendance record's (looked up here; FeishuError when that fails)."""
    if not may_see(request.actor, approval.participants() | _approved_by(ctx, request, approval), ctx.admins):
        return _refuse(ctx, request, Refused("not_found", {"id": request.approval_id[:64]})), None
    given = request.given_type
    if given and approval.approval_type and given != approval.approval_type.value:
        refused = Refused("type_mismatch", {"actual": approval.approval_type.value, "given": given})
        return _refuse(ctx, request, refused, approval), None
    state, record = approval.status, approval.record
    if approval.kind is Kind.LINKED:
        record = find_linked_record(ctx, approval)
        if record is None:
            return _refuse(ctx, request, Refused("record_not_found", {"id": approval.attendance_id}), approval), None
        state = record.state
    verdict = check_kind(approval.kind, request.action, approval.approval_type, state, request.actor,
                         _roles(ctx, request, approval), ctx.admins)
    if isinstance(verdict, Refused):
        return _refuse(ctx, request, verdict, in_state(approval, state)), record
    return None, record


def _approved_by(ctx: Context, request: ActionRequest, approval: Approval) -> frozenset[str]:
    """Who approved an attendance record through the bot may see it to revoke it (the audit log says who)."""
    if request.action is not Action.REVOKE or approval.kind is Kind.NATIVE:
        return frozenset()
    previous = ctx.store.last_success(request.approval_id)
    if previous is not None and previous.action == Action.APPROVE.value and previous.operator:
        return frozenset({previous.operator})
    return frozenset()


def _roles(ctx: Context, request: ActionRequest, approval: Approval) -> Roles:
    """The approval's roles; for revoking an attendance record, whoever approved it through the bot counts as
    having passed it (the record keeps no approver; the audit log does)."""
    roles = approval.roles()
    if request.action is Action.REVOKE and approval.kind is not Kind.NATIVE:
        previous = ctx.store.last_success(request.approval_id)
        if previous is not None and previous.action == Action.APPROVE.value and previous.operator:
            roles = dataclasses.replace(roles, passed_by=roles.passed_by | {previous.operator})
    return roles


def _send_task(ctx: Context, request: ActionRequest, approval: Approval, intent: str, held: _Held) -> Outcome:
    """A native approval: approval v4 tasks/approve or tasks/reject on the actor's own PENDING task, as them."""
    task = approval.pending_task_of(request.actor.ids())
    assert task is not None and request.actor.open_id  # _detail refused anyone without one
    verb = request.action.value
    try:
        log_id = ctx.feishu.act_on_task(verb, approval.approval_code, approval.instance_code, task.id,
                                        request.actor.open_id, comment=request.reason).get("log_id", "")
    except FeishuError as err:
        if not err.outcome_unknown:
            return _fail(ctx, request, err, approval, intent=intent)
        if not _settled_task(ctx, approval.instance_code, task.id):
            return _unknown(ctx, request, err, approval)
        log_id = err.log_id
    now = ctx.clock()
    _audit_applied(ctx, request, approval_type="", log_id=str(log_id), at=now, intent=intent, held=held,
                   approval=approval)
    return Outcome(Status.DONE, request.action, approval.instance_code, after_task(approval, task.id, request.action),
                   at=now, reason=request.reason, actor=request.actor, log_id=str(log_id))


def after_task(approval: Approval, task_id: str, action: Action) -> Approval:
    """The approval as this task's result leaves it, without looking it up again (the click's answer must not
    wait for a second lookup): the task decided; a rejection ends the instance; an approval leaves it PENDING
    while other tasks are, else APPROVED. A next node Feishu opens arrives as an approval_task event, and the
    other copies are rendered from a fresh lookup off the answer's path (`act`)."""
    done = RULES[action].results_in
    tasks = tuple(dataclasses.replace(t, status=done.value) if t.id == task_id else t for t in approval.tasks)
    others = any(t.status.upper() == "PENDING" for t in tasks)
    status = InstanceStatus.PENDING if action is Action.APPROVE and others else done
    return dataclasses.replace(approval, tasks=tasks, status=status, raw_status=status.value)


def _send_process(ctx: Context, request: ActionRequest, approval: Approval, intent: str, held: _Held) -> Outcome:
    """A linked approval or an attendance record: attendance approval_infos/process on the record (the one a
    linked form names, never the instance)."""
    rule = RULES[request.action]
    assert approval.approval_type is not None  # the rules refused read-only approvals
    try:
        result = ctx.feishu.process(approval.attendance_id, approval.approval_type.value, rule.process_status)
        log_id = str(result.get("log_id", ""))
    except FeishuError as err:
        if not err.outcome_unknown:
            return _fail(ctx, request, err, approval, intent=intent)
        if not _record_reached(ctx, approval, rule.results_in):
            return _unknown(ctx, request, err, approval)
        log_id = err.log_id  # applied, answer lost: the record says it is done
    now = ctx.clock()
    _audit_applied(ctx, request, approval_type=approval.approval_type.value, log_id=log_id, at=now, intent=intent,
                   held=held, approval=approval)
    final = in_state(approval, rule.results_in)
    return Outcome(Status.DONE, request.action, approval.instance_code, final, at=now, reason=request.reason,
                   approval_type=approval.approval_type.value, actor=request.actor, log_id=log_id)


def _intent(ctx: Context, request: ActionRequest, approval: Approval, detail: dict[str, str]) -> str:
    """Written before the Feishu call: a worker that dies after it leaves this for the reconciler."""
    intent = uuid.uuid4().hex
    ctx.store.record_intent(intent, approval.instance_code, request.action.value, _operator(request.actor),
                            ctx.clock(), {**detail, "reason": request.reason})
    return intent


def _settled_task(ctx: Context, instance_code: str, task_id: str) -> bool:
    """After a lost answer: has Feishu moved the task on? Looked at a few times, never sent again."""
    return _looks(ctx, lambda: any(t.id == task_id and t.status.upper() != "PENDING"
                                   for t in load_approval(ctx, instance_code).tasks))


def _record_reached(ctx: Context, approval: Approval, target: InstanceStatus) -> bool:
    def reached() -> bool:
        record = find_linked_record(ctx, approval)
        return record is not None and record.state is target

    return _looks(ctx, reached)


def _looks(ctx: Context, reached: Callable[[], bool]) -> bool:
    for attempt in range(SETTLE_LOOKUPS):
        if attempt:
            ctx.sleep(SETTLE_PAUSE_S)
        try:
            if reached():
                return True
        except FeishuError:
            continue
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
    """An admin's action on an attendance id the bot never found: the intent first, as for every process call,
    so that a lost answer stays open for the reconciler instead of reading as a failure."""
    action = request.action
    intent = uuid.uuid4().hex
    ctx.store.record_intent(intent, request.approval_id, action.value, _operator(request.actor), ctx.clock(),
                            {"kind": Kind.ATTENDANCE.value, "attendance_id": request.approval_id,
                             "approval_type": approval_type.value, "reason": request.reason})
    try:
        result = ctx.feishu.process(request.approval_id, approval_type.value, RULES[action].process_status)
    except FeishuError as err:
        if err.outcome_unknown:  # the intent stays open: the reconciler settles it
            log.warning("feishu answer lost: action=%s attendance id=%s kind=%s log_id=%s", action.value,
                        request.approval_id, err.kind, err.log_id)
            _audit(ctx, request, "unknown", approval_type=approval_type.value, code=err.code, log_id=err.log_id,
                   message=err.kind)
            return Outcome(Status.UNKNOWN, action, request.approval_id, error=err, approval_type=approval_type.value,
                           attendance_only=True, log_id=err.log_id)
        return _fail(ctx, request, err, attendance_only=True, approval_type=approval_type.value, intent=intent)
    now = ctx.clock()
    log_id = str(result.get("log_id", ""))
    _audit_applied(ctx, request, approval_type=approval_type.value, log_id=log_id, at=now, intent=intent)
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
    final = in_state(approval, RULES[Action(previous.action)].results_in)
    return Outcome(Status.ALREADY, request.action, request.approval_id, final, previous=previous)


def _fail(ctx: Context, request: ActionRequest, err: FeishuError, approval: Approval | None = None, *,
          attendance_only: bool = False, approval_type: str = "", intent: str = "") -> Outcome:
    log.warning("feishu call failed: action=%s approval=%s code=%s kind=%s log_id=%s",
                request.action.value, request.approval_id, err.code, err.kind, err.log_id)
    _audit(ctx, request, "failed", approval_type=approval_type, code=err.code, log_id=err.log_id,
           message=err.kind, intent=intent)
    return Outcome(Status.FAILED, request.action, request.approval_id, approval, error=err,
                   approval_type=approval_type, attendance_only=attendance_only, log_id=err.log_id)


def _unknown(ctx: Context, request: ActionRequest, err: FeishuError, approval: Approval) -> Outcome:
    """An answer that did not come is not a refusal: Feishu may still apply it. The intent stays open, so the
    reconciler (handlers/maintenance.py) keeps looking and tells the person once the outcome is known."""
    log.warning("feishu answer lost: action=%s approval=%s kind=%s log_id=%s", request.action.value,
                request.approval_id, err.kind, err.log_id)
    _audit(ctx, request, "unknown", approval_type=approval.approval_type.value if approval.approval_type else "",
           code=err.code, log_id=err.log_id, message=err.kind)
    return Outcome(Status.UNKNOWN, request.action, request.approval_id, approval, error=err, log_id=err.log_id)


def _operator(actor: Actor) -> str:
    return actor.open_id or actor.user_id


def _audit(ctx: Context, request: ActionRequest, outcome: str, *, approval_type: str = "", code: int | None = None,
           log_id: str = "", message: str = "", at: float | None = None, intent: str = "") -> None:
    """Written before the answer is sent; with `intent`, the intent is settled in the same transaction."""
    ctx.store.append_audit(_record(request, outcome, approval_type=approval_type, code=code, log_id=log_id,
                                   message=message, at=at if at is not None else ctx.clock()), settles=intent)


def _record(request: ActionRequest, outcome: str, *, approval_type: str = "", code: int | None = None,
            log_id: str = "", message: str = "", at: float) -> AuditRecord:
    return AuditRecord(approval_id=request.approval_id, action=request.action.value,
                       operator=_operator(request.actor), outcome=outcome, approval_type=approval_type,
                       reason=request.reason, code=code, log_id=log_id, message=message, at=at)


def _audit_applied(ctx: Context, request: ActionRequest, *, approval_type: str, log_id: str, at: float,
                   intent: str = "", held: _Held | None = None, approval: Approval | None = None) -> None:
    """The "done" record. Feishu applied the action, so a store failure here must not say "failed": the
    person is told it was done, and the reconciler settles the open intent from Feishu's state. With `held`,
    the same transaction releases the lock, marks the click's claim done and remembers the serial number
    the answer's card shows (`approval`'s)."""
    try:
        if held is None:
            _audit(ctx, request, "done", approval_type=approval_type, log_id=log_id, at=at, intent=intent)
            return
        ctx.store.end_action(_record(request, "done", approval_type=approval_type, log_id=log_id, at=at),
                             settles=intent, lock=held.name, owner=held.owner, claim=held.claim,
                             serial=_serial_of(approval))
        held.released = True
        if held.claim and ctx.delivery is not None:
            ctx.delivery.settled = True
    except StoreUnavailable as err:
        log.warning("done but not audited: approval=%s intent=%s store unavailable: %s", request.approval_id,
                    intent or "-", err.problem)


def _serial_of(approval: Approval | None) -> tuple[str, str] | None:
    """The (serial number, instance code) pair a card of `approval` shows, when it has a serial of its own."""
    return (approval.own_serial, approval.instance_code) if approval is not None and approval.own_serial else None


def _may_go_on(outcome: Outcome) -> bool:
    """A native approval that `after_task` reads as APPROVED may have a next node the bot cannot see."""
    approval = outcome.approval
    return (approval is not None and approval.kind is Kind.NATIVE and outcome.action is Action.APPROVE
            and approval.status is InstanceStatus.APPROVED)


def act(ctx: Context, request: ActionRequest, *, clicked_message: str = "", as_message: bool = False,
        private: bool = False) -> Reply:
    """Perform, then say so; when done, every other copy of the card follows (the clicked one is the answer)
    and the requester is told. `private`: the answer is seen by the actor alone (their buttons only)."""
    outcome = perform(ctx, request)
    reply = present(ctx, outcome, as_message=as_message, viewer=request.actor if private else None)
    if outcome.status is Status.DONE and outcome.approval is not None and reply.card is not None:
        update_other_cards(ctx, outcome.approval.instance_code, reply.card, exclude=clicked_message,
                           approval=outcome.approval, settled=not _may_go_on(outcome))
    tell_requester(ctx, outcome)
    return reply
