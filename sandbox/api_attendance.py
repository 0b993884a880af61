"""Attendance v1 records: `user_task_remedys` (create, query) and `user_approvals` (create, query), as Feishu's
pages say (通知补卡审批发起, 获取补卡记录, 写入审批结果, 获取审批数据).

Limits enforced: remedy query 50 `user_ids`, one `status` (default 2), second timestamps; approvals query dates
yyyyMMdd at most 30 days apart and not past tomorrow, leave and overtime listed only as approved (2) or revoked
(4). Parameter problems answer 1220001 with a message saying which, unknown employees 1220004.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from sandbox import records
from sandbox.api import ApiError, Reply, Request, _body, _field, ok
from sandbox.state import SandboxState

ENDPOINT_EMPLOYEE_TYPES = {
    "remedy_create": ("employee_id", "employee_no"),
    "remedy_query": ("employee_id", "employee_no"),
    "user_approval_create": ("employee_id", "employee_no", "open_id"),
    "user_approval_query": ("employee_id", "employee_no", "open_id"),
}
USER_FIELD = {"employee_id": "user_id", "employee_no": "employee_no", "open_id": "open_id"}
REMEDY_QUERY_MAX_IDS = 50
APPROVAL_QUERY_MAX_DAYS = 30
UNITS = (1, 2, 3, 4)
DATE_TYPES = ("PeriodTime", "CreateTime", "UpdateTime")


def _invalid(why: str) -> ApiError:
    return ApiError(1220001, f"param is invalid: {why}")


def _employee_type(req: Request, endpoint: str) -> str:
    allowed = ENDPOINT_EMPLOYEE_TYPES[endpoint]
    value = req.query.get("employee_type", "")
    if value not in allowed:
        raise _invalid(f"employee_type invalid: must be one of {', '.join(allowed)}, got {value!r}")
    return value


def _employee(state: SandboxState, value: str, employee_type: str) -> dict[str, Any]:
    key = USER_FIELD[employee_type]
    found = next((u for u in state.people.values() if u.get(key) == value), None)
    if found is None:
        raise ApiError(1220004, f"param is invalid: user_id {value} is not exist or does not have permission")
    return found


def _employee_ids(state: SandboxState, values: list[str], employee_type: str) -> dict[str, str]:
    """contact user_id (attendance's employee_id) -> the id the caller used."""
    return {_employee(state, value, employee_type)["user_id"]: value for value in values}


def _user_ids(body: Mapping[str, Any], endpoint: str, limit: int | None) -> list[str]:
    values = _field(body, "user_ids", list, endpoint)
    if not values or not all(isinstance(v, str) and v for v in values):
        raise _invalid("user_ids must be a non-empty list of ids")
    if limit is not None and len(values) > limit:
        raise _invalid(f"user_ids holds at most {limit} ids, got {len(values)}")
    return values


def _status(body: Mapping[str, Any], endpoint: str) -> int:
    status = _field(body, "status", int, endpoint, required=False)
    status = records.APPROVED if status is None else status
    if status not in records.STATUSES:
        raise _invalid(f"status must be one of 0-4, got {status}")
    return status


def _today(state: SandboxState) -> date:
    return datetime.fromtimestamp(state.now(), records.ZoneInfo(records.TIME_ZONE)).date()


# -- remedies -----------------------------------------------------------------------------------------------------


def remedy_create(state: SandboxState, req: Request) -> Reply:
    employee_type = _employee_type(req, "remedy_create")
    body = _body(req, "remedy_create")
    employee = _employee(state, _field(body, "user_id", str, "remedy_create"), employee_type)
    ints = {name: _field(body, name, int, "remedy_create") for name in ("remedy_date", "punch_no", "work_type")}
    remedy_time = _field(body, "remedy_time", str, "remedy_create")
    reason = _field(body, "reason", str, "remedy_create")
    _field(body, "time", str, "remedy_create", required=False)  # obsolete on the page, but typed
    day = _remedy_day(ints, remedy_time)
    _check_remedy_allowed(state, employee, day, ints)
    record = state.submit_remedy(employee["user_id"], remedy_date=ints["remedy_date"], punch_no=ints["punch_no"],
                                 work_type=ints["work_type"], remedy_time=remedy_time, reason=reason)
    rendered = {**records.render_remedy(record, body["user_id"]), "status": records.PENDING}
    rendered.update({key: "-" for key in ("time", "time_zone", "create_time", "update_time")})  # "无效字段"
    return ok({"user_remedy": rendered})


def _remedy_day(ints: Mapping[str, int], remedy_time: str) -> date:
    if ints["punch_no"] not in (0, 1, 2):
        raise _invalid(f"punch_no must be 0, 1 or 2, got {ints['punch_no']}")
    if ints["work_type"] not in (0, 1, 2):
        raise _invalid(f"work_type must be 1 (on duty), 2 (off duty) or 0 (free schedule), got {ints['work_type']}")
    try:
        day = records.parse_day(ints["remedy_date"])
        when = datetime.strptime(remedy_time, records.MINUTE)
    except ValueError:
        raise _invalid("remedy_date must be yyyyMMdd and remedy_time yyyy-MM-dd HH:mm") from None
    if when.date() != day:
        raise _invalid(f"remedy_time {remedy_time} is not on remedy_date {ints['remedy_date']}")
    return day


def _check_remedy_allowed(state: SandboxState, employee: Mapping[str, Any], day: date,
                          ints: Mapping[str, int]) -> None:
    if employee["user_id"] in state.remedy_not_allowed:
        raise ApiError(1226502, "not allowed remedy: the attendance group of this employee allows no remedy")
    today = _today(state)
    if day > today or (today - day).days > state.remedy_window_days:
        raise ApiError(1226503, f"approval time beyond the time range: remedies are allowed for the last "
                                f"{state.remedy_window_days} days, not {day.isoformat()}")
    mine = [r for r in state.attendance.values() if r["approval_type"] == "remedy"
            and r["employee_id"] == employee["user_id"] and r["status"] in (records.PENDING, records.APPROVED)]
    if any(r["item"]["remedy_date"] == ints["remedy_date"] and r["item"]["punch_no"] == ints["punch_no"]
           and r["item"]["work_type"] == ints["work_type"] for r in mine):
        raise ApiError(1226501, "no need remedy: this punch already has a pending or approved remedy")
    quota = state.remedy_quota_per_month
    month = [r for r in mine if str(r["item"]["remedy_date"])[:6] == str(ints["remedy_date"])[:6]]
    if quota is not None and len(month) >= quota:
        raise ApiError(1226504, f"no remedy time left: {quota} remedies per month")


def remedy_query(state: SandboxState, req: Request) -> Reply:
    employee_type = _employee_type(req, "remedy_query")
    body = _body(req, "remedy_query")
    ids = _employee_ids(state, _user_ids(body, "remedy_query", REMEDY_QUERY_MAX_IDS), employee_type)
    start, end = (_seconds(body, name) for name in ("check_time_from", "check_time_to"))
    if start > end:
        raise _invalid("check_time_from is after check_time_to")
    date_type = _date_type(body, "remedy_query", unsupported=("CreateTime",))
    status = _status(body, "remedy_query")
    found = [r for r in state.attendance.values() if r["employee_id"] in ids
             and records.remedy_matches(r, start_s=start, end_s=end, date_type=date_type, status=status)]
    found.sort(key=lambda r: (r["employee_id"], r["item"]["remedy_time"], r["approval_id"]))
    return ok({"user_remedys": [records.render_remedy(r, ids[r["employee_id"]]) for r in found]})


def _seconds(body: Mapping[str, Any], name: str) -> int:
    value = _field(body, name, str, "remedy_query")
    if not value.isdigit():
        raise _invalid(f"{name} must be a timestamp in seconds, got {value!r}")
    return int(value)


def _date_type(body: Mapping[str, Any], endpoint: str, unsupported: tuple[str, ...]) -> str:
    value = _field(body, "check_date_type", str, endpoint, required=False) or "PeriodTime"
    if value not in DATE_TYPES:
        raise _invalid(f"check_date_type must be one of {', '.join(DATE_TYPES)}, got {value!r}")
    if value in unsupported:
        raise _invalid(f"check_date_type {value} is not supported yet")
    return value


# -- leave, out, overtime, trip -------------------------------------------------------------------------------------

_REQUIRED: Mapping[str, Mapping[str, type | tuple[type, ...]]] = {
    "leaves": {"unit": int, "interval": int, "start_time": str, "end_time": str, "i18n_names": dict,
               "default_locale": str, "reason": str},
    "outs": {"uniq_id": str, "unit": int, "interval": int, "start_time": str, "end_time": str, "i18n_names": dict,
             "default_locale": str, "reason": str},
    "overtime_works": {"duration": (int, float), "unit": int, "category": int, "type": int, "start_time": str,
                       "end_time": str},
    "trips": {"start_time": str, "end_time": str, "reason": str, "approve_pass_time": str,
              "approve_apply_time": str},
}


def user_approval_create(state: SandboxState, req: Request) -> Reply:
    employee_type = _employee_type(req, "user_approval_create")
    body = _body(req, "user_approval_create")
    approval = _field(body, "user_approval", dict, "user_approval_create")
    employee = _employee(state, _field(approval, "user_id", str, "user_approval_create"), employee_type)
    day = _field(approval, "date", str, "user_approval_create")
    try:
        records.parse_day(day)
    except ValueError:
        raise _invalid(f"date must be yyyyMMdd, got {day!r}") from None
    items = {name: _items(approval, name) for name in _REQUIRED}
    if not any(items.values()):
        raise _invalid("user_approval holds no outs, leaves, overtime_works or trips")
    out: dict[str, Any] = {"user_id": approval["user_id"], "date": day}
    for name, entries in items.items():
        out[name] = [_write(state, employee, records.TYPE_OF_LIST[name], day, item) for item in entries]
    return ok({"user_approval": out})


def _items(approval: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    entries = approval.get(name) or []
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _invalid(f"{name} must be a list of objects")
    for entry in entries:
        _check_item(name, entry)
    return entries


def _check_item(name: str, item: Mapping[str, Any]) -> None:
    for key, kind in _REQUIRED[name].items():
        value = item.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            raise _invalid(f"{name}[].{key} is required and must be a {getattr(kind, '__name__', 'number')}")
    for key in ("start_time", "end_time", "approve_pass_time", "approve_apply_time"):
        if key in item:
            try:
                datetime.strptime(str(item[key]), records.SECOND)
            except ValueError:
                raise _invalid(f"{name}[].{key} must be yyyy-MM-dd HH:mm:ss, got {item[key]!r}") from None
    if "unit" in item and item["unit"] not in UNITS:
        raise _invalid(f"{name}[].unit must be 1 (day), 2 (hour), 3 (half day) or 4 (half hour)")
    if name == "overtime_works" and (item["category"] not in (1, 2, 3) or item["type"] not in (0, 1, 2)):
        raise _invalid("overtime_works[].category must be 1-3 and type 0-2 (3 is retired)")
    if item["start_time"] > item["end_time"]:
        raise _invalid(f"{name}[].start_time is after end_time")


def _write(state: SandboxState, employee: Mapping[str, Any], kind: str, day: str,
           item: Mapping[str, Any]) -> dict[str, Any]:
    """Insert one record; an `idempotent_id` already written for this employee and type returns that record."""
    stored = {k: copy.deepcopy(v) for k, v in item.items() if k != "approval_id"}
    key = stored.get("idempotent_id")
    existing = next((r for r in state.attendance.values() if key and r["approval_type"] == kind
                     and r["employee_id"] == employee["user_id"] and r["item"].get("idempotent_id") == key), None)
    record = existing or state.submit_user_approval(employee["user_id"], kind, day, stored)
    return records.render_item(record)


def user_approval_query(state: SandboxState, req: Request) -> Reply:
    employee_type = _employee_type(req, "user_approval_query")
    body = _body(req, "user_approval_query")
    ids = _employee_ids(state, _user_ids(body, "user_approval_query", None), employee_type)
    first, last = _date_range(state, body)
    date_type = _date_type(body, "user_approval_query", unsupported=("UpdateTime",))
    for name in ("check_time_from", "check_time_to"):
        if body.get(name) is not None:
            raise _invalid(f"{name} is not open yet; use check_date_from and check_date_to")
    status = _status(body, "user_approval_query")
    found = [r for r in state.attendance.values() if r["employee_id"] in ids
             and records.approval_matches(r, first=first, last=last, date_type=date_type, status=status)]
    return ok({"user_approvals": records.group_user_approvals(found, ids)})


def _date_range(state: SandboxState, body: Mapping[str, Any]) -> tuple[date, date]:
    days = []
    for name in ("check_date_from", "check_date_to"):
        value = _field(body, name, int, "user_approval_query")
        try:
            days.append(records.parse_day(value))
        except ValueError:
            raise _invalid(f"{name} must be a yyyyMMdd date, got {value}") from None
    first, last = days
    tomorrow = _today(state) + timedelta(days=1)
    if first > last:
        raise _invalid("check_date_from is after check_date_to")
    if records.days_between(first, last) > APPROVAL_QUERY_MAX_DAYS:
        raise _invalid(f"check_date_from and check_date_to are more than {APPROVAL_QUERY_MAX_DAYS} days apart")
    if last > tomorrow:
        raise _invalid(f"dates may not be later than tomorrow ({tomorrow.strftime(records.DAY)})")
    return first, last
