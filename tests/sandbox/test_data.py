"""The sample world keeps the promises (ids, statuses, shapes) that bot tests rely on."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest

from sandbox import data
from sandbox.state import SandboxState

REQUIRED = ("remedy_pending", "remedy_pending_2", "remedy_pending_3", "remedy_approved", "remedy_rejected",
            "remedy_reverted", "leave_pending", "leave_approved", "out_approved", "overtime_approved", "trip_approved",
            "shift_approved", "own_request", "every_widget", "attendance_field")
UUID = re.compile(r"[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}")
WIDGET_TYPES = ("input", "textarea", "number", "amount", "formula", "date", "dateInterval", "radio", "radioV2",
                "checkbox", "checkboxV2", "contact", "department", "connect", "document", "attachment",
                "attachmentV2", "image", "imageV2", "fieldList", "telephone", "address", "remedyGroup", "leaveGroup",
                "leaveGroupV2", "shiftGroup", "workGroup", "tripGroup", "outGroup")
ATTENDANCE_WIDGETS = {"remedyGroup": "remedy", "leaveGroup": "leave", "leaveGroupV2": "leave", "workGroup": "overtime",
                      "tripGroup": "trip", "outGroup": "out"}
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00$")


@pytest.fixture(scope="module")
def world():
    return data.build_world()


def form(world, name):
    return json.loads(world["instances"][data.INSTANCES[name]]["form"])


def test_every_required_sample_exists_instances_with_uuid_codes_records_with_numeric_ids():
    for name in (*REQUIRED, *data.FLOW_NAMES):
        assert UUID.fullmatch(data.INSTANCES[name]), name
    for approval_id in data.RECORD_IDS.values():
        assert re.fullmatch(r"\d{19}", approval_id)
    assert data.RECORD_IDS["remedy_pending"] == "6800000000000000001"
    assert data.RECORD_IDS["leave_approved"] == "6800000000000000002"
    assert len(set(data.INSTANCES.values())) == len(data.INSTANCES)


def test_app_bot_users_chats_and_departments():
    world = data.build_world()
    assert (data.APP_ID, data.APP_SECRET, data.TENANT_KEY, data.BOT_OPEN_ID, data.BOT_NAME) == (
        "cli_sandbox_app", "sandbox-app-secret", "tenant_sandbox", "ou_bot", "Approval Bot")
    expected = {"manager": ("王经理", "Manager Wang"), "manager2": ("李经理", "Manager Li"),
                "admin": ("赵管理员", "Admin Zhao"), "employee": ("张三", "Employee Zhang"),
                "stranger": ("陌生人", "Stranger Sun")}
    for name, (zh, en) in expected.items():
        user = world["users"][name]
        assert (user["open_id"], user["user_id"], user["name"], user["en_name"]) == (f"ou_{name}", f"u_{name}", zh, en)
        assert world["chats"][f"oc_p2p_{name}"]["members"] == [f"ou_{name}", "ou_bot"]
    assert set(world["chats"]["oc_group_team"]["members"]) == {f"ou_{n}" for n in expected} | {"ou_bot"}
    assert world["departments"]["od-sales"]["i18n_name"] == {"zh_cn": "销售部", "en_us": "Sales"}
    assert world["departments"]["od-rd"]["i18n_name"] == {"zh_cn": "研发部", "en_us": "R&D"}


@pytest.mark.parametrize(("name", "status", "widget"), [
    ("remedy_pending", "PENDING", "remedyGroup"), ("remedy_pending_2", "PENDING", "remedyGroup"),
    ("remedy_pending_3", "PENDING", "remedyGroup"), ("remedy_approved", "APPROVED", "remedyGroup"),
    ("remedy_rejected", "REJECTED", "remedyGroup"), ("remedy_reverted", "APPROVED", "remedyGroup"),
    ("leave_pending", "PENDING", "leaveGroupV2"), ("leave_approved", "APPROVED", "leaveGroup"),
    ("out_approved", "APPROVED", "outGroup"), ("overtime_approved", "APPROVED", "workGroup"),
    ("trip_approved", "APPROVED", "tripGroup"), ("shift_approved", "APPROVED", "shiftGroup"),
    ("own_request", "PENDING", "remedyGroup"), ("every_widget", "PENDING", "remedyGroup"),
])
def test_statuses_and_types_and_no_record_under_an_instance_code(world, name, status, widget):
    code = data.INSTANCES[name]
    inst = world["instances"][code]
    assert inst["status"] == status
    assert inst["instance_code"] == code
    assert form(world, name)[0]["type"] == widget
    assert code not in world["attendance"]  # the two id spaces are apart


def test_pending_tasks_and_requesters(world):
    def pending(name):
        return [t["open_id"] for t in world["instances"][data.INSTANCES[name]]["task_list"] if t["status"] == "PENDING"]

    assert pending("remedy_pending") == ["ou_manager"]
    assert pending("remedy_pending_2") == ["ou_manager", "ou_manager2"]
    assert pending("remedy_pending_3") == ["ou_manager"]
    assert pending("own_request") == ["ou_manager2", "ou_admin"]
    assert world["instances"][data.INSTANCES["own_request"]]["open_id"] == "ou_manager"
    for name in REQUIRED[:14]:
        if name != "own_request":
            assert world["instances"][data.INSTANCES[name]]["open_id"] == "ou_employee", name


def test_approved_samples_name_who_passed_them(world):
    timeline = world["instances"][data.INSTANCES["remedy_approved"]]["timeline"]
    passes = [e for e in timeline if e["type"] == "PASS"]
    assert [(e["open_id"], e["user_id"]) for e in passes] == [("ou_manager", "u_manager")]
    assert world["instances"][data.INSTANCES["remedy_rejected"]]["timeline"][-1]["type"] == "REJECT"
    reverted = world["instances"][data.INSTANCES["remedy_reverted"]]
    # withdrawn by its submitter after approval: GET keeps APPROVED and says reverted
    assert (reverted["status"], reverted["reverted"]) == ("APPROVED", True)
    assert reverted["timeline"][-1]["type"] == "CANCEL" and reverted["timeline"][-1]["open_id"] == "ou_employee"


def test_every_widget_holds_every_widget_type_with_remedy_first(world):
    widgets = form(world, "every_widget")
    types = [w["type"] for w in widgets]
    assert types[0] == "remedyGroup"
    assert set(WIDGET_TYPES) <= set(types)
    assert "mysteryWidget" in types
    by_type = {w["type"]: w for w in widgets}
    assert len(by_type["fieldList"]["value"]) == 2 and all(isinstance(r, list) for r in by_type["fieldList"]["value"])
    assert by_type["contact"]["open_ids"] == ["ou_manager2"]
    assert by_type["department"]["value"] == [{"open_id": "od-sales"}]
    assert len(by_type["tripGroup"]["value"]["schedule"]) == 2
    assert set(by_type["telephone"]["value"]) == {"country_code", "national_number"}
    inst = world["instances"][data.INSTANCES["every_widget"]]
    assert any(c["files"] for c in inst["comment_list"])
    assert len(inst["timeline"]) >= 3


def test_forms_are_json_strings_with_rfc3339_dates_and_ms_timestamps(world):
    for inst in world["instances"].values():
        assert isinstance(inst["form"], str)
        assert isinstance(json.loads(inst["form"]), list)
        assert re.fullmatch(r"\d{13}", inst["start_time"])
        assert inst["end_time"] == "0" or re.fullmatch(r"\d{13}", inst["end_time"])
        for entry in inst["timeline"]:
            assert re.fullmatch(r"\d{13}", entry["create_time"])
    remedy = form(world, "remedy_pending")[0]["value"]
    assert RFC3339.match(remedy["time"])
    assert datetime.fromisoformat(remedy["time"]).utcoffset().total_seconds() == 8 * 3600


def test_attendance_field_names_an_attendance_id_attendance_does_not_list(world):
    widgets = form(world, "attendance_field")
    field = next(w for w in widgets if w.get("custom_id") == "attendance_approval_id")
    assert field["value"] == "6737202939523236113" != data.INSTANCES["attendance_field"]
    assert "6737202939523236113" not in world["attendance"]
    assert data.INSTANCES["attendance_field"] not in world["attendance"]


def test_records_carry_no_instance_code(world):
    remedy = world["attendance"][data.RECORD_IDS["remedy_pending"]]
    leave = world["attendance"][data.RECORD_IDS["leave_approved"]]
    assert (remedy["approval_type"], remedy["status"], remedy["employee_id"]) == ("remedy", 0, "u_employee")
    assert (leave["approval_type"], leave["status"], leave["employee_id"]) == ("leave", 2, "u_employee")
    codes = set(data.INSTANCES.values())
    for record in world["attendance"].values():
        assert not codes & set(json.dumps(record).split('"')), record["approval_id"]
    assert data.RECORD_IDS["remedy_pending"] not in world["instances"]


def test_the_flow_samples_route_through_their_definitions():
    state = SandboxState()
    purchase = state.instance(data.INSTANCES["purchase_two_step"])
    assert [t["open_id"] for t in purchase["task_list"]] == ["ou_manager"]  # the second step opens after it
    assert len(purchase["_nodes"]) == 2
    linked = {name: json.loads(state.instance(data.INSTANCES[name])["form"]) for name in ("linked_remedy",
                                                                                         "linked_leave")}
    assert [w["value"] for w in linked["linked_remedy"] if w.get("custom_id") == data.ATTENDANCE_FIELD] == [
        data.RECORD_IDS["remedy_linked"]]
    assert [w["value"] for w in linked["linked_leave"] if w.get("custom_id") == data.ATTENDANCE_FIELD] == [
        data.RECORD_IDS["leave_linked"]]
    assert state.instance(data.INSTANCES["linked_leave"])["status"] == "APPROVED"
    assert state.record(data.RECORD_IDS["leave_linked"])["status"] == 2


def test_build_world_returns_independent_copies():
    a, b = data.build_world(), data.build_world()
    a["instances"][data.INSTANCES["remedy_pending"]]["status"] = "APPROVED"
    assert b["instances"][data.INSTANCES["remedy_pending"]]["status"] == "PENDING"


def test_seed_pending_adds_actionable_remedies():
    state = SandboxState()
    before = len(state.instances)
    codes = data.seed_pending(state, approver="manager2", n=50)
    assert len(codes) == len(set(codes)) == 50
    assert len(state.instances) == before + 50
    for code in codes[:3]:
        inst = state.instance(code)
        assert UUID.fullmatch(code)
        assert inst["status"] == "PENDING"
        assert [t["open_id"] for t in inst["task_list"]] == ["ou_manager2"]
        assert state.record(code) is None  # a native approval: attendance knows nothing of it
    more = data.seed_pending(state, approver="manager2", n=5)
    assert not set(more) & set(codes)
    state.reset()
    assert len(state.instances) == before
    with pytest.raises(ValueError):
        data.seed_pending(state, approver="nobody", n=1)
