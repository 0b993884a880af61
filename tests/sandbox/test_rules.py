"""Seed 000's table, every row: (approval_type, status, record state) -> applied, 1220001 or 1220600.

The expected table is written out here by hand from the seed page, not derived from sandbox.rules.
"""

from __future__ import annotations

import itertools

import pytest

from sandbox import data, rules, worlds

TYPES = ("leave", "out", "overtime", "trip", "remedy")
STATUSES = (1, 2, 4)
RECORD_STATES = (0, 1, 2, 3, 4)  # pending, rejected, approved, canceled, reverted

# The only combinations the page allows: remedy approve/reject while pending, any type's revoke once approved.
ACCEPTED = {("remedy", 1, 0), ("remedy", 2, 0), ("remedy", 4, 2), ("leave", 4, 2), ("out", 4, 2),
            ("overtime", 4, 2), ("trip", 4, 2)}
RESULT = {1: 1, 2: 2, 4: 4}
RECORDS = worlds.RECORDS


def expected_code(approval_type: str, status: int, record_state: int) -> int:
    if approval_type != "remedy" and status != 4:
        return 1220001  # leave/out/overtime/trip only accept revoke: a parameter error
    return 0 if (approval_type, status, record_state) in ACCEPTED else 1220600


@pytest.mark.parametrize(("approval_type", "status", "record_state"),
                         list(itertools.product(TYPES, STATUSES, RECORD_STATES)))
def test_every_row_of_the_seed_table_over_http(api, state, approval_type, status, record_state):
    approval_id = "6900000000000000" + f"{TYPES.index(approval_type)}{status}{record_state}"
    state.attendance[approval_id] = {"approval_id": approval_id, "approval_type": approval_type,
                                     "status": record_state}
    answer = api.process(approval_id, approval_type, status)
    code = expected_code(approval_type, status, record_state)
    assert answer.code == code, answer.json
    if code == 0:
        assert answer.status == 200
        assert answer.json["data"] == {"approval_info": {"approval_id": approval_id, "approval_type": approval_type,
                                                         "status": RESULT[status]}}
        assert state.record(approval_id)["status"] == RESULT[status]
    else:
        assert answer.status == 400
        assert answer.json["msg"]
        assert answer.json["error"]["log_id"] == answer.headers["X-Tt-Logid"]
        assert state.record(approval_id)["status"] == record_state  # nothing changed


@pytest.mark.parametrize(("approval_type", "status", "record_state"),
                         list(itertools.product(TYPES, STATUSES, RECORD_STATES)))
def test_pure_rules_agree_with_the_table(approval_type, status, record_state):
    refusal = rules.check_process("1", approval_type, status, {"approval_type": approval_type,
                                                               "status": record_state})
    assert (refusal.code if refusal else 0) == expected_code(approval_type, status, record_state)
    assert rules.accepts(approval_type, status, record_state) == ((approval_type, status, record_state) in ACCEPTED)


@pytest.mark.parametrize("status", [0, 3, 5, -1, 42])
def test_status_outside_1_2_4_is_a_param_error(api, status):
    answer = api.process(RECORDS["remedy_pending"], "remedy", status)
    assert (answer.status, answer.code) == (400, 1220001)
    assert "status" in answer.json["msg"]


@pytest.mark.parametrize("approval_type", ["vacation", "REMEDY", "", "shift"])
def test_unknown_approval_type_is_a_param_error(api, approval_type):
    answer = api.process(RECORDS["remedy_pending"], approval_type, 2)
    assert (answer.status, answer.code) == (400, 1220001)


@pytest.mark.parametrize(("approval_type", "status"), [("leave", 2), ("out", 1), ("overtime", 2), ("trip", 1)])
def test_revoke_only_types_say_so(api, approval_type, status):
    answer = api.process(RECORDS["leave_approved"], approval_type, status)
    assert answer.code == 1220001
    assert "only accept status 4 (revoke)" in answer.json["msg"]


def test_type_must_match_the_record(api, state):
    answer = api.process(RECORDS["leave_approved"], "trip", 4)
    assert answer.code == 1220001
    assert "does not match" in answer.json["msg"]
    assert state.record(RECORDS["leave_approved"])["status"] == 2


def test_unknown_approval_id_is_not_found(api):
    answer = api.process("6999999999999999999", "remedy", 2)
    assert (answer.status, answer.code) == (400, 1220600)
    assert "approval not found" in answer.json["msg"]


def test_state_errors_name_the_current_state(api):
    pending = api.process(RECORDS["remedy_pending"], "remedy", 4)
    assert pending.code == 1220600
    assert "pending (0)" in pending.json["msg"] and "only approved (2)" in pending.json["msg"]
    approved = api.process(RECORDS["remedy_approved"], "remedy", 1)
    assert approved.code == 1220600
    assert "approved (2)" in approved.json["msg"] and "only pending (0)" in approved.json["msg"]


@pytest.mark.parametrize(("sample", "approval_type", "status"), [
    ("remedy_pending", "remedy", 2), ("remedy_pending", "remedy", 1), ("remedy_approved", "remedy", 4),
    ("leave_approved", "leave", 4), ("out_approved", "out", 4), ("overtime_approved", "overtime", 4),
    ("trip_approved", "trip", 4), ("remedy_linked", "remedy", 2), ("leave_linked", "leave", 4),
])
def test_success_changes_the_record_and_no_instance(api, state, sample, approval_type, status):
    approval_id = RECORDS[sample]
    before = state.record(approval_id)
    instances = {code: state.instance(code) for code in state.instances}
    answer = api.process(approval_id, approval_type, status)
    assert answer.code == 0
    after = state.record(approval_id)
    assert after["status"] == RESULT[status]
    assert after["update_time"] != before["update_time"]
    assert {code: state.instance(code) for code in state.instances} == instances


def test_linked_instance_stays_as_it_was_when_its_record_is_approved(api, state):
    code = worlds.NATIVE["linked_remedy_pending"]
    assert api.process(code, "remedy", 2).code == 1220600  # no attendance record under the instance code
    assert api.process(RECORDS["remedy_linked"], "remedy", 2).code == 0
    assert state.record(RECORDS["remedy_linked"])["status"] == 2
    inst = api.instance(code).json["data"]
    assert inst["status"] == "PENDING" and [t["status"] for t in inst["task_list"]] == ["PENDING"]


def test_records_that_no_instance_names_work_through_process(api, state):
    remedy, leave = data.RECORD_IDS["remedy_pending"], data.RECORD_IDS["leave_approved"]
    assert api.instance(remedy).code == 1390003
    assert api.process(remedy, "remedy", 1).code == 0
    assert state.record(remedy)["status"] == 1
    assert api.process(leave, "leave", 4).code == 0
    assert state.record(leave)["status"] == 4


def test_second_identical_call_is_refused(api):
    code = RECORDS["remedy_pending"]
    assert api.process(code, "remedy", 2).code == 0
    again = api.process(code, "remedy", 2)
    assert again.code == 1220600
    assert api.process(code, "remedy", 4).code == 0  # approved -> revoked is allowed
    assert api.process(code, "remedy", 4).code == 1220600


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\"text\"", b"{"])
def test_malformed_body_is_1220001(api, raw):
    answer = api.post("/open-apis/attendance/v1/approval_infos/process", raw=raw)
    assert (answer.status, answer.code) == (400, 1220001)
    assert "body" in answer.json["msg"]


@pytest.mark.parametrize("body", [
    {"approval_type": "remedy", "status": 2},
    {"approval_id": "7430000000000000001", "status": 2},
    {"approval_id": "7430000000000000001", "approval_type": "remedy"},
    {"approval_id": 7430000000000000001, "approval_type": "remedy", "status": 2},
    {"approval_id": "7430000000000000001", "approval_type": "remedy", "status": "2"},
    {"approval_id": "7430000000000000001", "approval_type": "remedy", "status": True},
    {"approval_id": "  ", "approval_type": "remedy", "status": 2},
])
def test_missing_or_mistyped_fields_are_1220001(api, state, body):
    answer = api.post("/open-apis/attendance/v1/approval_infos/process", body)
    assert (answer.status, answer.code) == (400, 1220001)
    assert state.record(RECORDS["remedy_pending"])["status"] == 0
