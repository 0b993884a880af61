"""Attendance records (attendance v1): remedy requests and leave/out/overtime/trip approvals written by a
third-party approval system, in their own numeric id space, per employee with dates.

Pure: no I/O, no locks, no other sandbox module. A record is a dict:

    {"approval_id": "7430…", "approval_type": "remedy" | "leave" | "out" | "overtime" | "trip",
     "status": 0-4, "employee_id": "<contact user_id>", "date": "yyyyMMdd", "time_zone": "Asia/Shanghai",
     "create_time": "<ms>", "update_time": "<ms>", "item": {the page's fields for that type}}

`approval_infos/process` changes `status` (seed 000's rules, sandbox.rules); nothing here knows about approval v4.
The shapes rendered are those of the `user_task_remedys/query` and `user_approvals/query` pages.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

TIME_ZONE = "Asia/Shanghai"
PENDING, REJECTED, APPROVED, CANCELED, REVERTED = 0, 1, 2, 3, 4
STATUSES = (PENDING, REJECTED, APPROVED, CANCELED, REVERTED)

# user_approvals: the type of each list in the page's `user_approval` object
LIST_OF_TYPE = {"leave": "leaves", "out": "outs", "overtime": "overtime_works", "trip": "trips"}
TYPE_OF_LIST = {v: k for k, v in LIST_OF_TYPE.items()}
# "请假、加班：仅支持查询已通过和已撤回状态" (the approvals query page): other statuses never list them
APPROVED_OR_REVOKED_ONLY = frozenset({"leave", "overtime"})

DAY = "%Y%m%d"
MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"


def yyyymmdd(day: date) -> int:
    return int(day.strftime(DAY))


def parse_day(value: int | str) -> date:
    """yyyyMMdd (int or string) -> date; ValueError when it is not a real day."""
    text = str(value)
    if len(text) != 8 or not text.isdigit():
        raise ValueError(f"{value!r} is not a yyyyMMdd date")
    return datetime.strptime(text, DAY).date()


def local_seconds(text: str, fmt: str, tz: str = TIME_ZONE) -> int:
    """A wall-clock time in the record's time zone as a Unix timestamp (seconds)."""
    return int(datetime.strptime(text, fmt).replace(tzinfo=ZoneInfo(tz)).timestamp())


def local_day(ms: str | int, tz: str = TIME_ZONE) -> date:
    return datetime.fromtimestamp(int(ms) / 1000, ZoneInfo(tz)).date()


def seconds(ms: str | int) -> str:
    return str(int(ms) // 1000)


# -- building -----------------------------------------------------------------------------------------------------


def remedy(approval_id: str, employee_id: str, *, remedy_date: int, punch_no: int, work_type: int,
           remedy_time: str, reason: str, created_ms: str, status: int = PENDING) -> dict[str, Any]:
    item = {"remedy_date": remedy_date, "punch_no": punch_no, "work_type": work_type, "remedy_time": remedy_time,
            "reason": reason}
    return _record(approval_id, "remedy", employee_id, str(remedy_date), created_ms, status, item)


def user_approval(approval_id: str, approval_type: str, employee_id: str, day: str, item: Mapping[str, Any],
                  created_ms: str, status: int = APPROVED) -> dict[str, Any]:
    """A leave/out/overtime/trip record; `user_approvals` create writes them approved."""
    if approval_type not in LIST_OF_TYPE:
        raise ValueError(f"not a user_approvals type: {approval_type!r}")
    return _record(approval_id, approval_type, employee_id, day, created_ms, status, dict(item))


def _record(approval_id: str, approval_type: str, employee_id: str, day: str, created_ms: str, status: int,
            item: dict[str, Any]) -> dict[str, Any]:
    return {"approval_id": approval_id, "approval_type": approval_type, "status": status,
            "employee_id": employee_id, "date": day, "time_zone": TIME_ZONE, "create_time": created_ms,
            "update_time": created_ms, "item": item}


# -- rendering ----------------------------------------------------------------------------------------------------


def render_remedy(record: Mapping[str, Any], user_id: str) -> dict[str, Any]:
    """One `user_task_remedy` of the query page; `user_id` already in the caller's `employee_type`."""
    item = record["item"]
    return {"user_id": user_id, "remedy_date": item["remedy_date"], "punch_no": item["punch_no"],
            "work_type": item["work_type"], "approval_id": record["approval_id"], "remedy_time": item["remedy_time"],
            "status": record["status"], "reason": item["reason"],
            "time": str(local_seconds(item["remedy_time"], MINUTE, record["time_zone"])),
            "time_zone": record["time_zone"], "create_time": seconds(record["create_time"]),
            "update_time": seconds(record["update_time"])}


def render_item(record: Mapping[str, Any]) -> dict[str, Any]:
    """One entry of a `user_approval`'s outs/leaves/overtime_works/trips, with its approval_id."""
    return {"approval_id": record["approval_id"], **record["item"]}


def group_user_approvals(records: Iterable[Mapping[str, Any]],
                         user_id_of: Mapping[str, str]) -> list[dict[str, Any]]:
    """The query page's `user_approvals`: one entry per (employee, date) with the four lists."""
    grouped: dict[tuple[str, str], dict[str, Any]] = {}
    for record in sorted(records, key=lambda r: (r["employee_id"], r["date"], r["approval_id"])):
        key = (record["employee_id"], record["date"])
        entry = grouped.setdefault(key, {"user_id": user_id_of[record["employee_id"]], "date": record["date"],
                                         "outs": [], "leaves": [], "overtime_works": [], "trips": [],
                                         "time_zone": record["time_zone"]})
        entry[LIST_OF_TYPE[record["approval_type"]]].append(render_item(record))
    return list(grouped.values())


# -- querying -----------------------------------------------------------------------------------------------------


def remedy_matches(record: Mapping[str, Any], *, start_s: int, end_s: int, date_type: str, status: int) -> bool:
    """A remedy within [start_s, end_s] by its remedy time (PeriodTime) or status update (UpdateTime)."""
    if record["approval_type"] != "remedy" or record["status"] != status:
        return False
    if date_type == "UpdateTime":
        when = int(record["update_time"]) // 1000
    else:
        when = local_seconds(record["item"]["remedy_time"], MINUTE, record["time_zone"])
    return start_s <= when <= end_s


def approval_matches(record: Mapping[str, Any], *, first: date, last: date, date_type: str, status: int) -> bool:
    """A leave/out/overtime/trip whose date (PeriodTime) or creation day (CreateTime) is in [first, last]."""
    kind = record["approval_type"]
    if kind not in LIST_OF_TYPE or record["status"] != status:
        return False
    if kind in APPROVED_OR_REVOKED_ONLY and status not in (APPROVED, REVERTED):
        return False
    day = local_day(record["create_time"], record["time_zone"]) if date_type == "CreateTime" \
        else parse_day(record["date"])
    return first <= day <= last


def days_between(first: date, last: date) -> int:
    return (last - first) // timedelta(days=1)
