"""Attendance records through the Flask test client: user_task_remedys and user_approvals create and query with
their pages' limits, process on records of the attendance world, linked instances left alone, and faults."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from sandbox import records, worlds
from sandbox.state import SandboxState
from tests.sandbox.conftest import Api

REMEDY = "/open-apis/attendance/v1/user_task_remedys"
REMEDY_QUERY = "/open-apis/attendance/v1/user_task_remedys/query"
APPROVALS = "/open-apis/attendance/v1/user_approvals"
APPROVALS_QUERY = "/open-apis/attendance/v1/user_approvals/query"
TEAM = ["u_agent1", "u_agent2", "u_agent3", "u_ops1", "u_ops2"]


def today(state):
    return worlds.today_in_tenant(state.now())


def seconds(day, clock="00:00"):
    return str(records.local_seconds(f"{day.isoformat()} {clock}", records.MINUTE))


def remedies(api, state, *, status=None, users=TEAM, days=30, **extra):
    day = today(state)
    body = {"user_ids": users, "check_time_from": seconds(day - timedelta(days=days)),
            "check_time_to": seconds(day, "23:59"), **extra}
    if status is not None:
        body["status"] = status
    return api.post(REMEDY_QUERY, body, employee_type="employee_id")


def approvals(api, state, *, first=30, last=0, status=None, users=TEAM, **extra):
    day = today(state)
    body = {"user_ids": users, "check_date_from": records.yyyymmdd(day - timedelta(days=first)),
            "check_date_to": records.yyyymmdd(day - timedelta(days=last)), **extra}
    if status is not None:
        body["status"] = status
    return api.post(APPROVALS_QUERY, body, employee_type="employee_id")


# -- remedy query -------------------------------------------------------------------------------------------------


def test_remedy_query_lists_one_status_and_defaults_to_approved(api, state):
    pending = remedies(api, state, status=0).json["data"]["user_remedys"]
    assert {r["approval_id"] for r in pending} == {worlds.RECORDS[n] for n in (
        "remedy_pending", "remedy_pending_2", "remedy_no_leader", "remedy_linked")}
    first = next(r for r in pending if r["approval_id"] == worlds.RECORDS["remedy_pending"])
    assert set(first) == {"user_id", "remedy_date", "punch_no", "work_type", "approval_id", "remedy_time", "status",
                          "reason", "time", "time_zone", "create_time", "update_time"}
    assert (first["user_id"], first["work_type"], first["status"], first["time_zone"]) == (
        "u_agent1", 1, 0, "Asia/Shanghai")
    day = today(state) - timedelta(days=2)
    assert first["remedy_date"] == records.yyyymmdd(day) and first["remedy_time"] == f"{day.isoformat()} 09:00"
    assert first["time"] == seconds(day, "09:00") and len(first["create_time"]) == 10  # seconds, as strings
    default = remedies(api, state).json["data"]["user_remedys"]
    assert [r["approval_id"] for r in default] == [worlds.RECORDS["remedy_approved"]]
    for status, name in ((1, "remedy_rejected"), (3, "remedy_canceled"), (4, "remedy_revoked")):
        assert [r["approval_id"] for r in remedies(api, state, status=status).json["data"]["user_remedys"]] == [
            worlds.RECORDS[name]]


def test_remedy_query_window_and_employee_no(api, state):
    assert worlds.RECORDS["remedy_old"] not in {r["approval_id"] for r in remedies(
        api, state, status=0, users=["u_agent1"]).json["data"]["user_remedys"]}
    older = remedies(api, state, status=0, users=["u_agent1"], days=45).json["data"]["user_remedys"]
    assert worlds.RECORDS["remedy_old"] in {r["approval_id"] for r in older}
    body = {"user_ids": ["E20002"], "check_time_from": seconds(today(state) - timedelta(days=5)),
            "check_time_to": seconds(today(state), "23:59"), "status": 0}
    by_number = api.post(REMEDY_QUERY, body, employee_type="employee_no").json["data"]["user_remedys"]
    assert {r["user_id"] for r in by_number} == {"E20002"}


@pytest.mark.parametrize(("change", "says"), [
    ({"user_ids": [f"u_x{i}" for i in range(51)]}, "at most 50"),
    ({"user_ids": []}, "non-empty"),
    ({"check_time_from": "yesterday"}, "timestamp in seconds"),
    ({"check_time_from": "9999999999"}, "after check_time_to"),
    ({"status": 5}, "0-4"),
    ({"status": "0"}, "status must be a int"),
    ({"check_date_type": "CreateTime"}, "not supported"),
    ({"check_date_type": "Whenever"}, "check_date_type must be one of"),
])
def test_remedy_query_limits(api, state, change, says):
    day = today(state)
    body = {"user_ids": ["u_agent1"], "check_time_from": seconds(day - timedelta(days=3)),
            "check_time_to": seconds(day), **change}
    answer = api.post(REMEDY_QUERY, body, employee_type="employee_id")
    assert (answer.status, answer.code) == (400, 1220001)
    assert says in answer.json["msg"]


def test_remedy_query_needs_a_known_employee_and_type(api, state):
    assert remedies(api, state, users=["u_nobody"]).code == 1220004
    body = {"user_ids": ["u_agent1"], "check_time_from": "0", "check_time_to": "1"}
    assert "employee_type invalid" in api.post(REMEDY_QUERY, body).json["msg"]
    assert api.post(REMEDY_QUERY, body, employee_type="open_id").code == 1220001  # not on the remedy page
    fifty = [f"u_agent{i % 3 + 1}" for i in range(50)]
    assert remedies(api, state, users=fifty, status=0).code == 0


def test_remedy_query_by_update_time(api, state):
    rejected = state.attendance[worlds.RECORDS["remedy_rejected"]]
    updated = int(rejected["update_time"]) // 1000
    body = {"user_ids": ["u_ops2"], "check_time_from": str(updated - 1), "check_time_to": str(updated + 1),
            "check_date_type": "UpdateTime", "status": 1}
    found = api.post(REMEDY_QUERY, body, employee_type="employee_id").json["data"]["user_remedys"]
    assert [r["approval_id"] for r in found] == [worlds.RECORDS["remedy_rejected"]]


# -- remedy create + process --------------------------------------------------------------------------------------


def remedy_body(state, days_ago=1, clock="09:00", **extra):
    day = today(state) - timedelta(days=days_ago)
    return {"user_id": "u_agent2", "remedy_date": records.yyyymmdd(day), "punch_no": 0, "work_type": 1,
            "remedy_time": f"{day.isoformat()} {clock}", "reason": "忘记打卡", **extra}


def test_a_created_remedy_is_pending_listed_and_processed(api, state):
    created = api.post(REMEDY, remedy_body(state), employee_type="employee_id")
    assert created.code == 0
    remedy = created.json["data"]["user_remedy"]
    assert remedy["status"] == 0 and remedy["approval_id"].isdigit() and remedy["time_zone"] == "-"
    listed = remedies(api, state, status=0, users=["u_agent2"]).json["data"]["user_remedys"]
    assert remedy["approval_id"] in {r["approval_id"] for r in listed}
    assert api.process(remedy["approval_id"], "remedy", 2).json["data"]["approval_info"]["status"] == 2
    approved = remedies(api, state, status=2, users=["u_agent2"]).json["data"]["user_remedys"]
    assert remedy["approval_id"] in {r["approval_id"] for r in approved}
    assert api.process(remedy["approval_id"], "remedy", 2).code == 1220600  # no longer pending


@pytest.mark.parametrize(("change", "code", "says"), [
    ({"punch_no": 3}, 1220001, "punch_no"),
    ({"work_type": 7}, 1220001, "work_type"),
    ({"remedy_time": "yesterday 9am"}, 1220001, "yyyy-MM-dd HH:mm"),
    ({"remedy_date": 20200101}, 1220001, "is not on remedy_date"),
    ({"reason": None}, 1220001, "reason is required"),
    ({"user_id": "u_nobody"}, 1220004, "not exist"),
])
def test_remedy_create_checks(api, state, change, code, says):
    body = {k: v for k, v in {**remedy_body(state), **change}.items() if v is not None}
    answer = api.post(REMEDY, body, employee_type="employee_id")
    assert (answer.code, says in answer.json["msg"]) == (code, True)


def test_remedy_create_attendance_group_rules(api, state):
    assert api.post(REMEDY, remedy_body(state, days_ago=-1), employee_type="employee_id").code == 1226503
    assert api.post(REMEDY, remedy_body(state, days_ago=61), employee_type="employee_id").code == 1226503
    assert api.post(REMEDY, remedy_body(state), employee_type="employee_id").code == 0
    assert api.post(REMEDY, remedy_body(state), employee_type="employee_id").code == 1226501  # same punch again
    state.remedy_not_allowed.add("u_agent2")
    assert api.post(REMEDY, remedy_body(state, clock="18:00", work_type=2), employee_type="employee_id").code == 1226502
    state.remedy_not_allowed.clear()
    state.remedy_quota_per_month = 1
    answer = api.post(REMEDY, remedy_body(state, clock="18:00", work_type=2), employee_type="employee_id")
    assert (answer.code, answer.json["msg"]) == (1226504, "no remedy time left: 1 remedies per month")


def test_process_on_a_linked_record_leaves_the_instance_alone(api, state):
    code = worlds.NATIVE["linked_remedy_pending"]
    before = state.instance(code)
    assert api.process(worlds.RECORDS["remedy_linked"], "remedy", 2).code == 0
    assert state.attendance[worlds.RECORDS["remedy_linked"]]["status"] == 2
    assert state.instance(code) == before  # process never touches a v4 instance
    assert api.process(code, "remedy", 2).code == 1220600  # and knows no instance code


def test_seed_000_rules_hold_for_attendance_records(api):
    assert api.process(worlds.RECORDS["leave_approved"], "leave", 2).code == 1220001  # leave: revoke only
    assert api.process(worlds.RECORDS["leave_approved"], "remedy", 4).code == 1220001  # the type must match
    assert api.process(worlds.RECORDS["leave_approved"], "leave", 4).code == 0
    assert api.process(worlds.RECORDS["leave_revoked"], "leave", 4).code == 1220600  # already revoked
    assert api.process(worlds.RECORDS["remedy_rejected"], "remedy", 2).code == 1220600


# -- approvals query and create -----------------------------------------------------------------------------------


def test_approvals_query_groups_by_employee_and_date(api, state):
    found = approvals(api, state).json["data"]["user_approvals"]
    ids = {item["approval_id"]: (entry["user_id"], key) for entry in found
           for key in ("leaves", "outs", "overtime_works", "trips") for item in entry[key]}
    assert ids == {worlds.RECORDS["leave_approved"]: ("u_agent1", "leaves"),
                   worlds.RECORDS["out_approved"]: ("u_ops1", "outs"),
                   worlds.RECORDS["overtime_approved"]: ("u_agent3", "overtime_works"),
                   worlds.RECORDS["trip_approved"]: ("u_ops1", "trips"),
                   worlds.RECORDS["leave_linked"]: ("u_agent2", "leaves")}
    leave_day = next(e for e in found if e["leaves"] and e["user_id"] == "u_agent1")
    assert leave_day["date"] == (today(state) - timedelta(days=7)).strftime("%Y%m%d")
    assert leave_day["time_zone"] == "Asia/Shanghai"
    leave = leave_day["leaves"][0]
    assert leave["interval"] == 8 * 3600 and leave["i18n_names"]["en"] == "Annual leave"
    revoked = approvals(api, state, status=4).json["data"]["user_approvals"]
    assert [e["leaves"][0]["approval_id"] for e in revoked] == [worlds.RECORDS["leave_revoked"]]


def test_leave_and_overtime_are_only_listed_approved_or_revoked(api, state):
    state.attendance[worlds.RECORDS["leave_approved"]]["status"] = 0
    state.attendance[worlds.RECORDS["out_approved"]]["status"] = 0
    found = approvals(api, state, status=0).json["data"]["user_approvals"]
    assert [(e["user_id"], [i["approval_id"] for i in e["outs"]], e["leaves"]) for e in found] == [
        ("u_ops1", [worlds.RECORDS["out_approved"]], [])]


def test_a_45_day_look_back_needs_two_ranges(api, state):
    assert approvals(api, state, first=45).code == 1220001
    older = approvals(api, state, first=45, last=31).json["data"]["user_approvals"]
    assert [e["leaves"][0]["approval_id"] for e in older] == [worlds.RECORDS["leave_old"]]


@pytest.mark.parametrize(("change", "says"), [
    ({"first": 31, "last": 0}, "more than 30 days apart"),
    ({"first": -2, "last": -2}, "not be later than tomorrow"),
    ({"first": 0, "last": 1}, "is after"),
])
def test_approvals_query_date_limits(api, state, change, says):
    answer = approvals(api, state, **change)
    assert answer.code == 1220001 and says in answer.json["msg"]


def test_approvals_query_allows_tomorrow_and_checks_its_fields(api, state):
    assert approvals(api, state, first=29, last=-1).code == 0
    assert "not open yet" in approvals(api, state, check_time_from="1").json["msg"]
    assert "not supported" in approvals(api, state, check_date_type="UpdateTime").json["msg"]
    assert approvals(api, state, users=["u_nobody"]).code == 1220004
    by_open_id = approvals(api, state, users=["ou_agent1"])
    assert by_open_id.code == 1220004  # employee_type=employee_id: an open_id is no employee id
    body = {"user_ids": ["ou_agent1"], "check_date_from": records.yyyymmdd(today(state) - timedelta(days=10)),
            "check_date_to": records.yyyymmdd(today(state))}
    found = api.post(APPROVALS_QUERY, body, employee_type="open_id").json["data"]["user_approvals"]
    assert {e["user_id"] for e in found} == {"ou_agent1"}


def leave_body(state, **extra):
    day = today(state) + timedelta(days=1)
    stamp = day.isoformat()
    leave = {"uniq_id": "6852582717813", "unit": 1, "interval": 28800, "start_time": f"{stamp} 09:00:00",
             "end_time": f"{stamp} 18:00:00", "i18n_names": {"ch": "年假", "en": "Annual leave"},
             "default_locale": "ch", "reason": "家里有事", **extra}
    return {"user_approval": {"user_id": "u_agent1", "date": day.strftime("%Y%m%d"), "leaves": [leave]}}


def test_a_written_leave_is_approved_queryable_and_revocable(api, state):
    written = api.post(APPROVALS, leave_body(state, idempotent_id="third-party-42"), employee_type="employee_id")
    assert written.code == 0
    leave = written.json["data"]["user_approval"]["leaves"][0]
    again = api.post(APPROVALS, leave_body(state, idempotent_id="third-party-42"), employee_type="employee_id")
    assert again.json["data"]["user_approval"]["leaves"][0]["approval_id"] == leave["approval_id"]  # idempotent
    found = approvals(api, state, first=0, last=-1, users=["u_agent1"]).json["data"]["user_approvals"]
    assert [e["leaves"][0]["approval_id"] for e in found] == [leave["approval_id"]]
    assert api.process(leave["approval_id"], "leave", 4).code == 0
    assert state.record(leave["approval_id"])["status"] == 4


@pytest.mark.parametrize(("change", "says"), [
    ({"unit": 9}, "unit must be"),
    ({"interval": 1.5}, "interval is required and must be a int"),
    ({"start_time": "tomorrow"}, "yyyy-MM-dd HH:mm:ss"),
    ({"reason": None}, "reason is required"),
])
def test_user_approval_create_checks(api, state, change, says):
    body = leave_body(state)
    body["user_approval"]["leaves"][0] = {k: v for k, v in {**body["user_approval"]["leaves"][0], **change}.items()
                                          if v is not None}
    answer = api.post(APPROVALS, body, employee_type="employee_id")
    assert answer.code == 1220001 and says in answer.json["msg"]


def test_user_approval_create_needs_something_to_write(api, state):
    empty = {"user_approval": {"user_id": "u_agent1", "date": "20261201"}}
    assert "holds no" in api.post(APPROVALS, empty, employee_type="employee_id").json["msg"]
    assert api.post(APPROVALS, {}, employee_type="employee_id").code == 1220001
    overtime = {"user_approval": {"user_id": "u_agent1", "date": "20261201", "overtime_works": [
        {"duration": 2, "unit": 2, "category": 1, "type": 3, "start_time": "2026-12-01 19:00:00",
         "end_time": "2026-12-01 21:00:00"}]}}
    assert "type 0-2" in api.post(APPROVALS, overtime, employee_type="employee_id").json["msg"]


# -- faults -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("endpoint", "url"), [("remedy_query", REMEDY_QUERY),
                                               ("user_approval_query", APPROVALS_QUERY)])
def test_faults_on_the_query_endpoints(api, state, endpoint, url):
    state.inject(endpoint, latency_s=0.05, http_status=500, times=1)
    started = datetime.now()
    answer = remedies(api, state) if endpoint == "remedy_query" else approvals(api, state)
    assert (answer.status, answer.code) == (500, 1225000)
    assert datetime.now() - started >= timedelta(seconds=0.05)
    again = remedies(api, state) if endpoint == "remedy_query" else approvals(api, state)
    assert again.code == 0
    state.inject(endpoint, rate_limit_reset_s=1, times=1)
    limited = api.post(url, {}, employee_type="employee_id")
    assert (limited.status, limited.code) == (429, 99991400)


def test_faults_on_the_create_endpoints(api, state):
    before = len(state.attendance)
    state.inject("remedy_create", id="u_agent2", code=1220005, times=1)
    assert api.post(REMEDY, remedy_body(state), employee_type="employee_id").code == 1220005
    state.inject("user_approval_create", id="u_agent1", http_status=500, times=1)
    assert api.post(APPROVALS, leave_body(state), employee_type="employee_id").code == 1225000
    assert len(state.attendance) == before  # neither was applied


def test_a_query_fault_can_target_one_employee(api, state):
    state.inject("remedy_query", id="u_ops1", code=1220005)
    assert remedies(api, state, users=["u_agent1", "u_ops1"]).code == 1220005  # any id of the call matches
    assert remedies(api, state, users=["u_agent1", "u_agent2"]).code == 0
    state.inject("user_approval_query", id="u_agent3", http_status=500, times=1)
    assert approvals(api, state, users=["u_agent3"]).status == 500


def test_attendance_queries_allow_50_per_second():
    state = SandboxState(clock=lambda: 1_800_000_000.0)
    api = Api(state)
    assert {remedies(api, state).code for _ in range(50)} == {0}
    throttled = remedies(api, state)
    assert (throttled.status, throttled.code, throttled.headers["x-ogw-ratelimit-reset"]) == (429, 99991400, "1")
    assert approvals(api, state).code == 0  # another endpoint, another budget
    state.advance(1)
    assert remedies(api, state).code == 0
