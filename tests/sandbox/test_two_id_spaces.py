"""Feishu's two worlds stay apart in the sandbox (DESIGN.md, "Where an approval lives"): approval v4 instances have
UUID codes and move only through the task APIs; attendance records have numeric ids and change only through
`approval_infos/process`. Nothing links them but the attendance id a linked instance's form names."""

from __future__ import annotations

import copy
import json
import re

import pytest

from sandbox import data, worlds

UUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
NUMERIC = re.compile(r"\d{19}")
LINKED = {data.INSTANCES["linked_remedy"]: data.RECORD_IDS["remedy_linked"],
          data.INSTANCES["linked_leave"]: data.RECORD_IDS["leave_linked"],
          worlds.NATIVE["linked_remedy_pending"]: worlds.RECORDS["remedy_linked"],
          worlds.NATIVE["linked_leave_approved"]: worlds.RECORDS["leave_linked"],
          worlds.NATIVE["linked_remedy_approved"]: worlds.RECORDS["remedy_approved"],
          worlds.NATIVE["linked_remedy_rejected"]: worlds.RECORDS["remedy_rejected"],
          worlds.NATIVE["linked_leave_revoked"]: worlds.RECORDS["leave_revoked"]}


def everything(state) -> dict:
    with state.lock:
        return copy.deepcopy({"instances": state.instances, "attendance": state.attendance})


def subscribe_all(api, state) -> None:
    for approval_code in list(state.definitions):
        assert api.post(f"/open-apis/approval/v4/approvals/{approval_code}/subscribe").code == 0


def test_the_id_spaces_are_disjoint_and_shaped_as_feishu_shapes_them(state):
    assert state.instances and state.attendance
    assert all(UUID.fullmatch(code) for code in state.instances)
    assert all(NUMERIC.fullmatch(approval_id) for approval_id in state.attendance)
    assert not set(state.instances) & set(state.attendance)


@pytest.mark.parametrize("name", sorted(data.INSTANCES))
@pytest.mark.parametrize("status", [1, 2, 4])
def test_process_with_an_instance_code_is_refused_as_an_unknown_approval_id(api, state, name, status):
    code = data.INSTANCES[name]
    before = everything(state)
    answer = api.process(code, "remedy", status)
    unknown = api.process("6999999999999999999", "remedy", status)
    assert (answer.status, answer.code) == (unknown.status, unknown.code) == (400, 1220600)
    assert "approval not found" in answer.json["msg"]
    assert everything(state) == before


def test_process_refuses_every_instance_code_of_the_native_world(api, state):
    before = everything(state)
    for code in worlds.NATIVE.values():
        for approval_type, status in (("remedy", 2), ("remedy", 1), ("leave", 4)):
            assert api.process(code, approval_type, status).code == 1220600, code
    assert everything(state) == before


@pytest.mark.parametrize(("approval_id", "approval_type", "status"), [
    (data.RECORD_IDS["remedy_pending"], "remedy", 2), (data.RECORD_IDS["leave_approved"], "leave", 4),
    (data.RECORD_IDS["remedy_linked"], "remedy", 1), (data.RECORD_IDS["leave_linked"], "leave", 4),
    (worlds.RECORDS["remedy_linked"], "remedy", 2), (worlds.RECORDS["leave_linked"], "leave", 4),
    (worlds.RECORDS["remedy_approved"], "remedy", 4), (worlds.RECORDS["trip_approved"], "trip", 4),
])
def test_process_never_changes_an_instance_nor_pushes_an_approval_event(api, state, approval_id, approval_type,
                                                                        status):
    subscribe_all(api, state)
    before = everything(state)
    assert api.process(approval_id, approval_type, status).code == 0
    after = everything(state)
    assert after["instances"] == before["instances"]
    assert after["attendance"][approval_id]["status"] == {1: 1, 2: 2, 4: 4}[status]
    changed = [k for k in after["attendance"] if after["attendance"][k] != before["attendance"][k]]
    assert changed == [approval_id]
    assert state.approval_events == []


def test_the_only_link_is_the_attendance_id_in_a_linked_instances_form(state):
    codes = set(state.instances)
    for approval_id, record in state.attendance.items():
        words = set(re.findall(r"[0-9A-Za-z-]+", json.dumps(record)))
        assert not words & codes, approval_id  # a record names no instance
    for code, inst in state.instances.items():
        named = {w["value"] for w in json.loads(inst["form"]) if w.get("custom_id") == data.ATTENDANCE_FIELD}
        rest = json.dumps({k: v for k, v in inst.items() if k != "form"})
        others = [w for w in json.loads(inst["form"]) if w.get("custom_id") != data.ATTENDANCE_FIELD]
        assert not set(re.findall(r"\d{19}", rest + json.dumps(others))) & set(state.attendance), code
        if code in LINKED:
            assert named == {LINKED[code]}
            assert LINKED[code] in state.attendance
    # a form may name a record attendance does not list: the name is all there is, nothing resolves it
    unlisted = state.instances[data.INSTANCES["attendance_field"]]
    assert {w["value"] for w in json.loads(unlisted["form"]) if w.get("custom_id") == data.ATTENDANCE_FIELD} == {
        data.ATTENDANCE_FIELD_ID}
    assert data.ATTENDANCE_FIELD_ID not in state.attendance
    assert not any(json.loads(i["form"]) and i["instance_code"] != unlisted["instance_code"]
                   and data.ATTENDANCE_FIELD_ID in i["form"] for i in state.instances.values())


def test_a_linked_instance_and_its_record_move_apart(api, state):
    code, approval_id = data.INSTANCES["linked_remedy"], data.RECORD_IDS["remedy_linked"]
    assert api.process(approval_id, "remedy", 2).code == 0
    inst = api.instance(code).json["data"]
    assert inst["status"] == "PENDING" and [t["status"] for t in inst["task_list"]] == ["PENDING"]
    state.decide(code, approve=False, comment="no")  # rejected in Feishu Approval: attendance is not told
    assert state.instance(code)["status"] == "REJECTED"
    assert state.record(approval_id)["status"] == 2


def test_task_changes_are_what_pushes_approval_events(api, state):
    subscribe_all(api, state)
    code = data.INSTANCES["purchase_two_step"]
    state.decide(code, approve=True)
    pushed = [(e.kind, e.status, e.instance_code) for e in state.approval_events]
    assert pushed == [("task", "APPROVED", code), ("task", "PENDING", code), ("task", "PENDING", code)]
    assert {e.open_id for e in state.approval_events[1:]} == {"ou_finance", "ou_office"}  # the second step
