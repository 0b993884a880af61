"""Attendance records, as attendance v1's two queries list them: remedy requests (`user_task_remedys/query`) and
approved leave/out/overtime/trip (`user_approvals/query`). Pure: no I/O.

Their `status` is the truth for seed 000's rules on a linked approval (process changes the record, never the
instance): 0 pending, 1 rejected, 2 approved, 3 cancelled, 4 revoked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.rules import ApprovalType, InstanceStatus

# record status -> the state the rules read
STATE_OF_STATUS: Mapping[int, InstanceStatus] = {
    0: InstanceStatus.PENDING, 1: InstanceStatus.REJECTED, 2: InstanceStatus.APPROVED,
    3: InstanceStatus.CANCELED, 4: InstanceStatus.REVERTED,
}
STATUS_OF_STATE: Mapping[InstanceStatus, int] = {v: k for k, v in STATE_OF_STATUS.items()}
# user_approvals: the type of each list in the page's `user_approval` object
TYPE_OF_LIST: Mapping[str, ApprovalType] = {"leaves": ApprovalType.LEAVE, "outs": ApprovalType.OUT,
                                            "overtime_works": ApprovalType.OVERTIME, "trips": ApprovalType.TRIP}


@dataclass(frozen=True)
class AttendanceRecord:
    approval_id: str
    approval_type: ApprovalType
    status: int
    employee_id: str
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def state(self) -> InstanceStatus:
        return STATE_OF_STATUS.get(self.status, InstanceStatus.UNKNOWN)

    @property
    def day(self) -> int:
        """The record's attendance day as yyyyMMdd (remedy: `remedy_date`; the others: the list's `date`), or 0."""
        value = _int(self.raw.get("remedy_date") if self.approval_type is ApprovalType.REMEDY else self.raw.get("date"))
        return value if value is not None and 19000101 <= value <= 29991231 else 0

    @property
    def time_zone(self) -> str:
        return str(self.raw.get("time_zone") or "")


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def remedies_from(data: Mapping[str, Any]) -> list[AttendanceRecord]:
    """`data` of user_task_remedys/query."""
    out = []
    for item in data.get("user_remedys") or ():
        status = _int(item.get("status")) if isinstance(item, Mapping) else None
        if status is None or not str(item.get("approval_id") or ""):
            continue
        out.append(AttendanceRecord(str(item["approval_id"]), ApprovalType.REMEDY, status,
                                    str(item.get("user_id") or ""), dict(item)))
    return out


def approvals_from(data: Mapping[str, Any], status: int) -> list[AttendanceRecord]:
    """`data` of user_approvals/query, asked for one `status` (the page lists records of the status asked for)."""
    out = []
    for approval in data.get("user_approvals") or ():
        if not isinstance(approval, Mapping):
            continue
        for list_name, approval_type in TYPE_OF_LIST.items():
            for item in approval.get(list_name) or ():
                if isinstance(item, Mapping) and str(item.get("approval_id") or ""):
                    raw = {**item, "date": approval.get("date"),
                           "time_zone": approval.get("time_zone") or item.get("time_zone")}
                    out.append(AttendanceRecord(str(item["approval_id"]), approval_type, status,
                                                str(approval.get("user_id") or ""), raw))
    return out
