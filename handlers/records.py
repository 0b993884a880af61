"""Finding the attendance record a linked approval names: attendance is the truth for its rules and status
(process changes the record, never the instance), and the only way to read a record is to query the requester's
records around its date (attendance v1 `user_task_remedys/query`, `user_approvals/query`; docs/feishu.md)."""

from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from core.approval import Approval
from core.attendance import AttendanceRecord, approvals_from, remedies_from
from core.errors import FeishuError
from core.rules import ApprovalType, InstanceStatus, Kind
from handlers.context import Context

log = logging.getLogger(__name__)

WINDOW_DAYS = 3  # the record's day is the widget's day; a day either side covers time zones and night shifts
# Each query lists one status per call (unset: approved only); the likeliest first: what an action needs.
_REMEDY_STATUSES = (0, 2, 1, 4, 3)
_APPROVAL_STATUSES = (2, 4)  # leave and overtime are listed only as approved or revoked


def in_state(approval: Approval, state: InstanceStatus) -> Approval:
    """The approval showing `state` as its status (a linked one: its record's, so it is not looked up again)."""
    return dataclasses.replace(approval, status=state, raw_status=state.value,
                               from_record=approval.kind is Kind.LINKED)


def with_record_state(ctx: Context, approval: Approval) -> Approval:
    """What a card shows and offers: a linked approval in its attendance record's state (the record is the truth
    for its rules, settling and status; the instance may say APPROVED for a revoked record). A record that cannot
    be found or read leaves the state unknown: the card offers nothing rather than a stale button."""
    if approval.kind is not Kind.LINKED or approval.from_record:
        return approval
    try:
        record = find_linked_record(ctx, approval)
    except FeishuError as err:
        log.warning("linked record not read: instance=%s record=%s code=%s log_id=%s", approval.instance_code,
                    approval.attendance_id, err.code, err.log_id)
        record = None
    return in_state(approval, record.state if record is not None else InstanceStatus.UNKNOWN)


def find_linked_record(ctx: Context, approval: Approval) -> AttendanceRecord | None:
    """The record `approval.attendance_id` names, among the requester's records around the approval's date."""
    if not approval.attendance_id or approval.approval_type is None or not approval.user_id:
        return None
    day = _day_of(ctx, approval)
    if approval.approval_type is ApprovalType.REMEDY:
        start = datetime.combine(day - timedelta(days=WINDOW_DAYS), datetime.min.time(), ZoneInfo(ctx.config.timezone))
        end = start + timedelta(days=2 * WINDOW_DAYS + 1)
        for status in _REMEDY_STATUSES:
            data = ctx.feishu.query_remedies([approval.user_id], int(start.timestamp()), int(end.timestamp()),
                                             status)
            found = _named(remedies_from(data), approval.attendance_id)
            if found is not None:
                return found
        return None
    tomorrow = _today(ctx) + timedelta(days=1)
    date_from = day - timedelta(days=WINDOW_DAYS)
    date_to = min(day + timedelta(days=WINDOW_DAYS), tomorrow)
    for status in _APPROVAL_STATUSES:
        data = ctx.feishu.query_user_approvals([approval.user_id], _ymd(date_from), _ymd(date_to), status)
        found = _named(approvals_from(data, status), approval.attendance_id)
        if found is not None:
            return found
    return None


def _named(records: list[AttendanceRecord], approval_id: str) -> AttendanceRecord | None:
    return next((r for r in records if r.approval_id == approval_id), None)


def _day_of(ctx: Context, approval: Approval) -> date:
    """The attendance day: the first date in the attendance widget's value, else the day it was submitted."""
    for widget in approval.form:
        value = widget.value if isinstance(widget.value, dict) else {}
        for key in ("time", "start", "remedyTime", "startTime"):
            text = value.get(key)
            if isinstance(text, str) and len(text) >= 10:
                try:
                    return date.fromisoformat(text[:10])
                except ValueError:
                    continue
    if approval.start_time:
        return datetime.fromtimestamp(approval.start_time / 1000, ZoneInfo(ctx.config.timezone)).date()
    return _today(ctx)


def _today(ctx: Context) -> date:
    return datetime.fromtimestamp(ctx.clock(), UTC).astimezone(ZoneInfo(ctx.config.timezone)).date()


def _ymd(day: date) -> int:
    return int(day.strftime("%Y%m%d"))
