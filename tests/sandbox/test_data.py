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
            "shift_approved", "own_request", "every_widget", "attendance_field", "attendance_only_remedy",
            "attendance_only_leave")
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
    return json.loads(world["instances"][data.SAMPLES[name]]["form"])


def test_every_required_sample_exists_with_19_digit_ids():
    for name in REQUIRED:
        assert re.fullmatch(r"\d{19}", data.SAMPLES[name]), name
    assert data.SAMPLES["attendance_only_remedy"] == "6800000000000000001"
    assert data.SAMPLES["attendance_only_leave"] == "6800000000000000002"
    assert len(set(data.SAMPLES.values())) == len(data.SAMPLES)


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


@pytest.mark.parametrize(("name", "status", "widget", "record_status"), [
    ("remedy_pending", "PENDING", "remedyGroup", 0), ("remedy_pending_2", "PENDING", "remedyGroup", 0),
    ("remedy_pending_3", "PENDING", "remedyGroup", 0), ("remedy_approved", "APPROVED", "remedyGroup", 2),
    ("remedy_rejected", "REJECTED", "remedyGroup", 1), ("remedy_reverted", "REVERTED", "remedyGroup", 4),
    ("leave_pending", "PENDING", "leaveGroupV2", 0), ("leave_approved", "APPROVED", "leaveGroup", 2),
    ("out_approved", "APPROVED", "outGroup", 2), ("overtime_approved", "APPROVED", "workGroup", 2),
    ("trip_approved", "APPROVED", "tripGroup", 2), ("shift_approved", "APPROVED", "shiftGroup", None),
    ("own_request", "PENDING", "remedyGroup", 0), ("every_widget", "PENDING", "remedyGroup", 0),
])
def test_statuses_types_and_linked_records(world, name, status, widget, record_status):
    code = data.SAMPLES[name]
    inst = world["instances"][code]
    assert inst["status"] == status
    assert inst["instance_code"] == code
    assert form(world, name)[0]["type"] == widget
    record = world["records"].get(code)
    if record_status is None:
        assert record is None  # shift approvals are read-only: nothing for process to act on
    else:
        assert record["status"] == record_status
        assert record["approval_type"] == ATTENDANCE_WIDGETS[widget]
        assert record["instance_code"] == code


def test_pending_tasks_and_requesters(world):
    def pending(name):
        return [t["open_id"] for t in world["instances"][data.SAMPLES[name]]["task_list"] if t["status"] == "PENDING"]

    assert pending("remedy_pending") == ["ou_manager"]
    assert pending("remedy_pending_2") == ["ou_manager", "ou_manager2"]
    assert pending("remedy_pending_3") == ["ou_manager"]
    assert pending("own_request") == ["ou_manager2", "ou_admin"]
    assert world["instances"][data.SAMPLES["own_request"]]["open_id"] == "ou_manager"
    for name in REQUIRED[:14]:
        if name != "own_request":
            assert world["instances"][data.SAMPLES[name]]["open_id"] == "ou_employee", name


def test_approved_samples_name_who_passed_them(world):
    timeline = world["instances"][data.SAMPLES["remedy_approved"]]["timeline"]
    passes = [e for e in timeline if e["type"] == "PASS"]
    assert [(e["open_id"], e["user_id"]) for e in passes] == [("ou_manager", "u_manager")]
    assert world["instances"][data.SAMPLES["remedy_rejected"]]["timeline"][-1]["type"] == "REJECT"
    reverted = world["instances"][data.SAMPLES["remedy_reverted"]]
    assert reverted["timeline"][-1]["type"] == "REVERTED" and reverted["reverted"] is True


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
    inst = world["instances"][data.SAMPLES["every_widget"]]
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


def test_attendance_field_names_a_different_attendance_id(world):
    widgets = form(world, "attendance_field")
    field = next(w for w in widgets if w.get("custom_id") == "attendance_approval_id")
    assert field["value"] == "6737202939523236113" != data.SAMPLES["attendance_field"]
    assert world["records"]["6737202939523236113"]["instance_code"] == data.SAMPLES["attendance_field"]
    assert data.SAMPLES["attendance_field"] not in world["records"]


def test_attendance_only_records_have_no_instance(world):
    remedy = world["records"][data.SAMPLES["attendance_only_remedy"]]
    leave = world["records"][data.SAMPLES["attendance_only_leave"]]
    assert (remedy["approval_type"], remedy["status"], remedy["instance_code"]) == ("remedy", 0, None)
    assert (leave["approval_type"], leave["status"], leave["instance_code"]) == ("leave", 2, None)
    assert data.SAMPLES["attendance_only_remedy"] not in world["instances"]


def test_build_world_returns_independent_copies():
    a, b = data.build_world(), data.build_world()
    a["instances"][data.SAMPLES["remedy_pending"]]["status"] = "APPROVED"
    assert b["instances"][data.SAMPLES["remedy_pending"]]["status"] == "PENDING"


def test_seed_pending_adds_actionable_remedies():
    state = SandboxState()
    before = len(state.instances)
    codes = data.seed_pending(state, approver="manager2", n=50)
    assert len(codes) == len(set(codes)) == 50
    assert len(state.instances) == before + 50
    for code in codes[:3]:
        inst = state.instance(code)
        assert re.fullmatch(r"\d{19}", code)
        assert inst["status"] == "PENDING"
        assert [t["open_id"] for t in inst["task_list"]] == ["ou_manager2"]
        assert state.record(code)["status"] == 0
    more = data.seed_pending(state, approver="manager2", n=5)
    assert not set(more) & set(codes)
    state.reset()
    assert len(state.instances) == before
    with pytest.raises(ValueError):
        data.seed_pending(state, approver="nobody", n=1)
