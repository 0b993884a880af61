"""The approval rules: which action may be taken on which type, in which state, by whom.

Pure: no I/O, no Feishu, no Flask. Buttons, commands and card rendering all ask this module.

    PENDING --approve (2)--> APPROVED --revoke (4)--> REVERTED
    PENDING --reject (1)---> REJECTED
    approve and reject: remedy only. revoke: every attendance type.

The table comes from seed 000 (``approval_infos/process``) and DESIGN.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType


class ApprovalType(StrEnum):
    LEAVE = "leave"
    OUT = "out"
    OVERTIME = "overtime"
    TRIP = "trip"
    REMEDY = "remedy"


class InstanceStatus(StrEnum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELED = "CANCELED"
    DELETED = "DELETED"
    REVERTED = "REVERTED"  # what a revoke (status 4) leaves behind
    UNKNOWN = "UNKNOWN"  # any status the bot does not know: read-only

    @classmethod
    def parse(cls, raw: str | None) -> InstanceStatus:
        try:
            return cls((raw or "").upper())
        except ValueError:
            return cls.UNKNOWN


class Kind(StrEnum):
    """Where an approval lives (DESIGN.md): each kind is acted on through its own API, with its own rules."""

    NATIVE = "native"  # a Feishu Approval instance: approval v4 tasks/approve and tasks/reject, as the approver
    LINKED = "linked"  # a native instance whose form names an attendance record: process on that record
    ATTENDANCE = "attendance"  # an attendance record alone: approval_infos/process (seed 000)


class Action(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    REVOKE = "revoke"


@dataclass(frozen=True)
class Rule:
    process_status: int  # the `status` sent to approval_infos/process
    types: frozenset[ApprovalType]
    requires: InstanceStatus
    results_in: InstanceStatus


RULES: Mapping[Action, Rule] = MappingProxyType(
    {
        Action.APPROVE: Rule(2, frozenset({ApprovalType.REMEDY}), InstanceStatus.PENDING, InstanceStatus.APPROVED),
        Action.REJECT: Rule(1, frozenset({ApprovalType.REMEDY}), InstanceStatus.PENDING, InstanceStatus.REJECTED),
        Action.REVOKE: Rule(4, frozenset(ApprovalType), InstanceStatus.APPROVED, InstanceStatus.REVERTED),
    }
)

# The instance form's attendance widget decides the approval type (DESIGN.md, "One request, two APIs").
WIDGET_TYPES: Mapping[str, ApprovalType] = MappingProxyType(
    {
        "remedyGroup": ApprovalType.REMEDY,
        "remedyGroupV2": ApprovalType.REMEDY,
        "leaveGroup": ApprovalType.LEAVE,
        "leaveGroupV2": ApprovalType.LEAVE,
        "widgetLeaveGroupV2": ApprovalType.LEAVE,
        "workGroup": ApprovalType.OVERTIME,
        "tripGroup": ApprovalType.TRIP,
        "outGroup": ApprovalType.OUT,
    }
)


@dataclass(frozen=True)
class Allowed:
    action: Action
    process_status: int

    def __bool__(self) -> bool:
        return True


@dataclass(frozen=True)
class Refused:
    """A business refusal: a catalogue key (``refusal.<reason>``) and the values it names."""

    key: str
    params: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return False


Verdict = Allowed | Refused


@dataclass(frozen=True)
class Actor:
    open_id: str = ""
    user_id: str = ""

    def ids(self) -> frozenset[str]:
        return frozenset(i for i in (self.open_id, self.user_id) if i)


@dataclass(frozen=True)
class Roles:
    """What the fresh instance lookup says about the people around one approval."""

    requester: frozenset[str] = frozenset()
    pending_approvers: frozenset[str] = frozenset()  # hold a PENDING task
    passed_by: frozenset[str] = frozenset()  # have a PASS entry in the timeline


def may_see(actor: Actor, participants: frozenset[str], admins: Iterable[str]) -> bool:
    """Only participants and admins learn anything about an approval; anyone else is told it was not found,
    exactly as for an id that does not exist (DESIGN.md)."""
    ids = actor.ids()
    return bool(ids & participants) or bool(ids & frozenset(admins))


def allowed_actions_for(approval_type: ApprovalType | None) -> tuple[Action, ...]:
    if approval_type is None:
        return ()
    return tuple(a for a, rule in RULES.items() if approval_type in rule.types)


def check_state(action: Action, approval_type: ApprovalType | None, status: InstanceStatus) -> Verdict:
    """May `action` be taken on an approval of this type in this state?"""
    rule = RULES[action]
    if approval_type is None:
        return Refused("read_only")
    if approval_type not in rule.types:
        return explain(approval_type)
    if status is not rule.requires:
        return _not_in_state(action, status)
    return Allowed(action, rule.process_status)


def check_role(action: Action, actor: Actor, roles: Roles, admins: Iterable[str]) -> Verdict:
    """May this person take `action`? Never on their own request, admins included."""
    ids = actor.ids()
    if not ids:
        return Refused("unknown_user")
    if ids & roles.requester:
        return Refused("own_request")
    is_admin = bool(ids & frozenset(admins))
    if action is Action.REVOKE:
        ok = is_admin or bool(ids & roles.passed_by)
    else:
        ok = is_admin or bool(ids & roles.pending_approvers)
    if not ok:
        return Refused("not_approver" if action is not Action.REVOKE else "not_revoker")
    return Allowed(action, RULES[action].process_status)


def check(
    action: Action,
    approval_type: ApprovalType | None,
    status: InstanceStatus,
    actor: Actor,
    roles: Roles,
    admins: Iterable[str],
) -> Verdict:
    """State first (it says what *is* possible), then role."""
    verdict = check_state(action, approval_type, status)
    if not verdict:
        return verdict
    return check_role(action, actor, roles, admins)


# Native approvals (approval v4 tasks): approve and reject while PENDING, for every approval definition, by the
# approver who holds the PENDING task and as themselves (an admin without a task is refused); revoking is the
# submitter's, in Feishu Approval, so the bot offers it on no native card.
NATIVE_ACTIONS: frozenset[Action] = frozenset({Action.APPROVE, Action.REJECT})


def check_native(action: Action, status: InstanceStatus, actor: Actor, roles: Roles) -> Verdict:
    if action not in NATIVE_ACTIONS:
        return Refused("native_revoke")
    if status is not InstanceStatus.PENDING:
        return _not_in_state(action, status)
    ids = actor.ids()
    if not ids:
        return Refused("unknown_user")
    if ids & roles.requester:
        return Refused("own_request")
    if not ids & roles.pending_approvers:
        return Refused("not_your_task")
    return Allowed(action, 0)


def check_kind(kind: Kind, action: Action, approval_type: ApprovalType | None, status: InstanceStatus,
               actor: Actor, roles: Roles, admins: Iterable[str]) -> Verdict:
    """The rules table of the approval's kind: native → `check_native`; linked and attendance → seed 000, on the
    attendance record's state (`status` is the record's for them)."""
    if kind is Kind.NATIVE:
        return check_native(action, status, actor, roles)
    return check(action, approval_type, status, actor, roles, admins)


def buttons(kind: Kind, approval_type: ApprovalType | None, status: InstanceStatus, actor: Actor | None = None,
            roles: Roles | None = None, admins: Iterable[str] = ()) -> tuple[Action, ...]:
    """The buttons a card shows: every action the kind's table allows (state only when no actor is given)."""
    if kind is not Kind.NATIVE:
        return available_actions(approval_type, status, actor, roles, admins)
    if actor is None or roles is None:
        return tuple(a for a in Action if a in NATIVE_ACTIONS and status is InstanceStatus.PENDING)
    return tuple(a for a in Action if check_native(a, status, actor, roles))


def _not_in_state(action: Action, status: InstanceStatus) -> Refused:
    key = {
        InstanceStatus.APPROVED: "already_approved",
        InstanceStatus.REJECTED: "already_rejected",
        InstanceStatus.REVERTED: "already_revoked",
        InstanceStatus.CANCELED: "canceled",
        InstanceStatus.DELETED: "deleted",
        InstanceStatus.PENDING: "not_approved_yet",
    }.get(status, "unknown_status")
    return Refused(key, {"action": action.value, "status": status.value})


def available_actions(
    approval_type: ApprovalType | None,
    status: InstanceStatus,
    actor: Actor | None = None,
    roles: Roles | None = None,
    admins: Iterable[str] = (),
) -> tuple[Action, ...]:
    """The buttons a card shows: every action `check` allows (state only when no actor is given)."""
    admins = tuple(admins)
    result = []
    for action in Action:
        if actor is None or roles is None:
            ok = check_state(action, approval_type, status)
        else:
            ok = check(action, approval_type, status, actor, roles, admins)
        if ok:
            result.append(action)
    return tuple(result)


def explain(approval_type: ApprovalType) -> Refused:
    """What *is* possible for this type, computed from RULES ("trip approvals can only be revoked")."""
    possible = allowed_actions_for(approval_type)
    if possible == (Action.REVOKE,):
        return Refused("only_revoke", {"type": approval_type.value})
    return Refused("not_for_type", {"type": approval_type.value, "possible": ",".join(a.value for a in possible)})

