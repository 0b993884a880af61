"""Attendance records: finding them and looking one up again. Attendance is the truth for a record's rules and
status (process changes the record, never an instance), and the only way to read a record is to query its
requester's records around its date (attendance v1 `user_task_remedys/query`, `user_approvals/query`; the
pages' limits: 50 employee ids and one status per remedy call, approval date ranges at most 30 days apart and
not past tomorrow; docs/feishu.md).

- a linked approval's record: the requester's records around the day in its attendance widget;
- a team's records (`search`): every member over the look-back window (`BOT_ATTENDANCE_LOOKBACK_DAYS`), the
  calls at once, what is done by the deadline now and the rest later (`Search.rest`);
- a record found once is remembered (`remember`: id → type, requester, day), so that a later `/approval`,
  button or command on its id needs no team-wide search: `load_record` asks for that requester and day alone.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.approval import Approval, from_record
from core.attendance import AttendanceRecord, approvals_from, remedies_from
from core.errors import FeishuError
from core.rules import Actor, ApprovalType, InstanceStatus, Kind
from handlers import fanout, team
from handlers.context import Context

log = logging.getLogger(__name__)

WINDOW_DAYS = 3  # the record's day is the widget's day; a day either side covers time zones and night shifts
# Each query lists one status per call (unset: approved only); the likeliest first: what an action needs.
_REMEDY_STATUSES = (0, 2, 1, 4, 3)
_APPROVAL_STATUSES = (2, 4)  # leave and overtime are listed only as approved or revoked
REMEDY_IDS_PER_CALL = 50  # user_task_remedys/query: "最多支持50个"
APPROVAL_IDS_PER_CALL = 50  # user_approvals/query gives no limit: the remedy query's, to stay safe
APPROVAL_RANGE_DAYS = 30  # user_approvals/query: check_date_to - check_date_from at most 30 days
PENDING, APPROVED = 0, 2


def chunks(ids: Sequence[str], size: int) -> list[list[str]]:
    return [list(ids[i:i + size]) for i in range(0, len(ids), size)]


def date_ranges(first: date, last: date, span_days: int = APPROVAL_RANGE_DAYS) -> list[tuple[date, date]]:
    """[first, last] cut into ranges whose ends are at most `span_days` apart."""
    out = []
    start = first
    while start <= last:
        end = min(start + timedelta(days=span_days), last)
        out.append((start, end))
        start = end + timedelta(days=1)
    return out


def window(ctx: Context) -> tuple[date, date]:
    """The look-back window: the last `attendance_lookback_days` days up to tomorrow (the approvals query goes
    no further; a leave of tomorrow is still revocable)."""
    today = _today(ctx)
    return today - timedelta(days=max(1, ctx.config.attendance_lookback_days) - 1), today + timedelta(days=1)


def query_calls(ctx: Context, employee_ids: Sequence[str], remedy_statuses: Iterable[int] = (PENDING,),
                approval_statuses: Iterable[int] = ()) -> list[Callable[[], list[AttendanceRecord]]]:
    """One call per (chunk of ids, status) for remedies, per (chunk, date range, status) for approvals."""
    first, last = window(ctx)
    tz = ZoneInfo(ctx.config.timezone)
    start_s = int(datetime.combine(first, datetime.min.time(), tz).timestamp())
    end_s = int(datetime.combine(last + timedelta(days=1), datetime.min.time(), tz).timestamp()) - 1
    calls: list[Callable[[], list[AttendanceRecord]]] = []
    for status in remedy_statuses:
        for ids in chunks(employee_ids, REMEDY_IDS_PER_CALL):
            calls.append(lambda ids=ids, status=status: remedies_from(
                ctx.feishu.query_remedies(ids, start_s, end_s, status)))
    for status in approval_statuses:
        for ids in chunks(employee_ids, APPROVAL_IDS_PER_CALL):
            for lo, hi in date_ranges(first, last):
                calls.append(lambda ids=ids, lo=lo, hi=hi, status=status: approvals_from(
                    ctx.feishu.query_user_approvals(ids, _ymd(lo), _ymd(hi), status), status))
    return calls


@dataclass
class Search:
    """What the team's queries found by the deadline, and those still running (`rest`)."""

    found: list[AttendanceRecord]
    rest: list[Future[list[AttendanceRecord]]]

    @property
    def complete(self) -> bool:
        return not self.rest

    def finish(self) -> list[AttendanceRecord]:
        """Wait for the rest (each call has the gateway's timeout) and return everything found."""
        more, _ = fanout.gather(self.rest)
        return _unique([*self.found, *(r for batch in more for r in batch)])


def search(ctx: Context, employee_ids: Sequence[str], *, deadline: float, remedy_statuses: Iterable[int] = (PENDING,),
           approval_statuses: Iterable[int] = ()) -> Search:
    """The team's records: every query at once; those done by `deadline` (time.monotonic()) now."""
    if not employee_ids:
        return Search([], [])
    futures = fanout.start(query_calls(ctx, employee_ids, remedy_statuses, approval_statuses))
    done, rest = fanout.gather(futures, deadline)
    return Search(_unique(r for batch in done for r in batch), rest)


def _unique(records: Iterable[AttendanceRecord]) -> list[AttendanceRecord]:
    seen: dict[str, AttendanceRecord] = {}
    for record in records:
        seen.setdefault(record.approval_id, record)
    return sorted(seen.values(), key=lambda r: (r.status != PENDING, -r.day, r.approval_id))  # pending first


def remember(ctx: Context, found: Iterable[AttendanceRecord], open_ids: Mapping[str, str]) -> None:
    """Each record's id → type, requester and day: what `load_record` needs to ask for that one record again
    (`open_ids`: employee_id → open_id, where contact told it)."""
    ctx.store.remember_records({r.approval_id: {"type": r.approval_type.value, "employee_id": r.employee_id,
                                                "open_id": open_ids.get(r.employee_id, ""), "day": r.day}
                                for r in found}, ctx.clock())


TEAM_SEARCH_S = 2.0


def found_in_team(ctx: Context, actor: Actor, approval_id: str) -> bool:
    """Is `approval_id` among the actor's team's records of the window (pending and decided remedies, approved
    records)? Everything found is remembered. A contact or query failure counts as no: the id is then answered
    as an unknown one."""
    try:
        members = team.team_of(ctx, actor)
        found = search(ctx, team.member_ids(members), deadline=time.monotonic() + TEAM_SEARCH_S,
                       remedy_statuses=(PENDING, APPROVED), approval_statuses=(APPROVED,)).finish()
    except FeishuError:
        return False
    remember(ctx, found, {m.user_id: m.open_id for m in members.members})
    return any(r.approval_id == approval_id for r in found)


def load_record(ctx: Context, approval_id: str) -> Approval | None:
    """The remembered record `approval_id`, asked for again (its requester, its day), with who may decide it;
    None when the bot never found it or attendance no longer lists it. Raises FeishuError."""
    ref = ctx.store.record_ref(approval_id)
    if ref is None:
        return None
    try:
        approval_type = ApprovalType(str(ref.get("type")))
    except ValueError:
        return None
    employee_id = str(ref.get("employee_id") or "")
    day = _parse_ymd(ref.get("day")) or _today(ctx)
    record = find_record(ctx, approval_id, approval_type, employee_id, day)
    if record is None:
        return None
    leaders = team.leaders_of(ctx, employee_id)
    return from_record(record, leaders.open_id or str(ref.get("open_id") or ""), leaders.ids)


def find_record(ctx: Context, approval_id: str, approval_type: ApprovalType, employee_id: str,
                day: date) -> AttendanceRecord | None:
    """The record among `employee_id`'s records around `day`, one status after another, the likeliest first
    (most lookups end with the first call)."""
    if not employee_id:
        return None
    if approval_type is ApprovalType.REMEDY:
        start = datetime.combine(day - timedelta(days=WINDOW_DAYS), datetime.min.time(), ZoneInfo(ctx.config.timezone))
        end = start + timedelta(days=2 * WINDOW_DAYS + 1)
        calls = [lambda status=status: remedies_from(ctx.feishu.query_remedies(
            [employee_id], int(start.timestamp()), int(end.timestamp()), status)) for status in _REMEDY_STATUSES]
    else:
        tomorrow = _today(ctx) + timedelta(days=1)
        date_from = min(day - timedelta(days=WINDOW_DAYS), tomorrow)
        date_to = min(day + timedelta(days=WINDOW_DAYS), tomorrow)
        calls = [lambda status=status: approvals_from(ctx.feishu.query_user_approvals(
            [employee_id], _ymd(date_from), _ymd(date_to), status), status) for status in _APPROVAL_STATUSES]
    for call in calls:
        found = _named(call(), approval_id)
        if found is not None:
            return found
    return None


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
    """The record `approval.attendance_id` names: a linked approval's, around its widget's day; an attendance
    record's own, around its day."""
    if not approval.attendance_id or approval.approval_type is None or not approval.user_id:
        return None
    if approval.record is not None:
        day = _parse_ymd(approval.record.day) or _today(ctx)
    else:
        day = _day_of(ctx, approval)
    return find_record(ctx, approval.attendance_id, approval.approval_type, approval.user_id, day)


def _parse_ymd(value: Any) -> date | None:
    try:
        return datetime.strptime(str(value), "%Y%m%d").date()
    except ValueError:
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
