"""Seed 000 (`POST /open-apis/attendance/v1/approval_infos/process`) read independently of bot/rules.py.

What the page says, as the sandbox enforces it:
- `status`: 1 reject (不通过), 2 approve (通过), 4 revoke (撤销). Anything else is a parameter error.
- `approval_type`: leave, out, overtime, trip, remedy. Leave, out, overtime and trip accept **only** 4;
  remedy accepts 1, 2 and 4.
- Only an approval still in the initiated state (attendance status 0) can become approved or rejected; only an
  approved one (status 2) can be revoked.
Errors: parameter problems are 1220001 (HTTP 400); state problems and unknown ids are 1220600, the generic
attendance error whose message says what went wrong (HTTP 400).

Pure: no I/O, no locks. Nothing here knows about approval v4: process changes attendance records only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

APPROVAL_TYPES = ("leave", "out", "overtime", "trip", "remedy")
REVOKE_ONLY_TYPES = frozenset({"leave", "out", "overtime", "trip"})

REJECT, APPROVE, REVOKE = 1, 2, 4
PROCESS_STATUSES: Mapping[int, str] = {REJECT: "reject", APPROVE: "approve", REVOKE: "revoke"}

# attendance record status (attendance v1 enums)
PENDING, REJECTED, APPROVED, CANCELED, REVERTED = 0, 1, 2, 3, 4
RECORD_STATUS_NAMES: Mapping[int, str] = {PENDING: "pending", REJECTED: "rejected", APPROVED: "approved",
                                          CANCELED: "canceled", REVERTED: "reverted"}
# which record status a process status leads to, and which one it requires
RESULT: Mapping[int, int] = {REJECT: REJECTED, APPROVE: APPROVED, REVOKE: REVERTED}
REQUIRES: Mapping[int, int] = {REJECT: PENDING, APPROVE: PENDING, REVOKE: APPROVED}
# a record status by the name the bot's rules give it (core.rules.InstanceStatus), for the differential test
INSTANCE_STATUS: Mapping[int, str] = {PENDING: "PENDING", REJECTED: "REJECTED", APPROVED: "APPROVED",
                                      CANCELED: "CANCELED", REVERTED: "REVERTED"}


PARAM_INVALID = 1220001
GENERIC = 1220600
INTERNAL = 1225000
# HTTP status per attendance code (seed 000's table)
HTTP_STATUS: Mapping[int, int] = {1220001: 400, 1220002: 400, 1220004: 400, 1220005: 400, 1220600: 400,
                                  1225000: 500, 1226500: 500, 1227500: 500}


@dataclass(frozen=True)
class Refusal:
    code: int
    msg: str

    @property
    def http_status(self) -> int:
        return HTTP_STATUS.get(self.code, 400)


def _status_name(status: int) -> str:
    name = PROCESS_STATUSES.get(status)
    return f"{status} ({name})" if name else str(status)


def _record_name(status: int) -> str:
    return f"{RECORD_STATUS_NAMES.get(status, 'unknown')} ({status})"


def check_params(approval_type: str, status: int) -> Refusal | None:
    """The checks that need no record: the enums and the type/status table."""
    if status not in PROCESS_STATUSES:
        return Refusal(PARAM_INVALID, f"param is invalid: status must be 1 (reject), 2 (approve) or 4 (revoke), "
                                      f"got {status}")
    if approval_type not in APPROVAL_TYPES:
        return Refusal(PARAM_INVALID, f"param is invalid: approval_type must be one of {', '.join(APPROVAL_TYPES)}, "
                                      f"got {approval_type!r}")
    if approval_type in REVOKE_ONLY_TYPES and status != REVOKE:
        return Refusal(PARAM_INVALID, f"param is invalid: {approval_type} approvals only accept status 4 (revoke), "
                                      f"got {_status_name(status)}; only remedy accepts 1 and 2")
    return None


def check_record(approval_id: str, approval_type: str, status: int,
                 record: Mapping[str, Any] | None) -> Refusal | None:
    """The checks against the attendance record the id names (None: there is no such record)."""
    if record is None:
        return Refusal(GENERIC, f"approval not found: no attendance approval with approval_id {approval_id}")
    if record["approval_type"] != approval_type:
        return Refusal(PARAM_INVALID, f"param is invalid: approval_type {approval_type!r} does not match the "
                                      f"approval's type {record['approval_type']!r}")
    current = int(record["status"])
    if current != REQUIRES[status]:
        if status == REVOKE:
            why = "only approved (2) approvals can be revoked"
        else:
            why = "only pending (0) approvals can be approved or rejected"
        return Refusal(GENERIC, f"approval status is {_record_name(current)}: {why}")
    return None


def check_process(approval_id: str, approval_type: str, status: int,
                  record: Mapping[str, Any] | None) -> Refusal | None:
    """Everything seed 000 says about one process call; None means it is applied."""
    return check_params(approval_type, status) or check_record(approval_id, approval_type, status, record)


def accepts(approval_type: str, status: int, record_status: int) -> bool:
    """Would a process call with these values succeed on a record of this type and status?"""
    record = {"approval_type": approval_type, "status": record_status}
    return check_process("x", approval_type, status, record) is None
