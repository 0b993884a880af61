"""The two worlds' sample data (sandbox.worlds) and the sandbox's module layering."""

from __future__ import annotations

import ast
import json
import re
from datetime import date, timedelta
from pathlib import Path

from sandbox import data, flow, records, worlds
from sandbox.state import SandboxState

UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


def widget_value(instance, custom_id):
    return next((w["value"] for w in json.loads(instance["form"]) if w.get("custom_id") == custom_id), None)


def test_native_instances_have_uuid_codes_and_every_status(state):
    natives = {name: state.instance(code) for name, code in worlds.NATIVE.items()}
    assert all(UUID.match(inst["instance_code"]) for inst in natives.values())
    statuses = {inst["status"] for inst in natives.values()}
    assert statuses == {"PENDING", "APPROVED", "REJECTED", "CANCELED", "DELETED"}
    assert natives["leave_reverted"]["reverted"] is True and natives["leave_reverted"]["status"] == "APPROVED"
    assert all(inst["status"] in flow.INSTANCE_STATUSES for inst in natives.values())
    # no attendance record shares a native code: the two id spaces are apart
    assert not set(worlds.NATIVE.values()) & set(state.attendance)


def test_the_two_step_purchase_and_its_and_node(state):
    step1, step2 = state.instance(worlds.NATIVE["purchase_step1"]), state.instance(worlds.NATIVE["purchase_step2"])
    assert data.DEFINITIONS["purchase"]["approval_code"] == step1["approval_code"]
    assert [(t["user_id"], t["status"]) for t in step1["task_list"]] == [("u_lead", "PENDING")]
    assert [(t["user_id"], t["status"], t["type"]) for t in step2["task_list"]] == [
        ("u_lead", "APPROVED", "OR"), ("u_finance", "PENDING", "AND"), ("u_office", "PENDING", "AND")]
    assert [e["type"] for e in step2["timeline"]] == ["START", "PASS"]


def test_linked_instances_name_attendance_records_of_their_requester(state):
    linked = [name for name in worlds.NATIVE if name.startswith("linked_")]
    assert len(linked) == 5
    for name in linked:
        inst = state.instance(worlds.NATIVE[name])
        record = state.attendance[widget_value(inst, data.ATTENDANCE_FIELD)]
        assert record["employee_id"] == inst["user_id"]  # contact user_id = attendance employee_id
        assert record["approval_id"].isdigit() and record["approval_id"] != inst["instance_code"]
    revoked = state.instance(worlds.NATIVE["linked_leave_revoked"])
    assert revoked["status"] == "APPROVED" and state.attendance[worlds.RECORDS["leave_revoked"]]["status"] == 4
    assert state.instance(worlds.NATIVE["linked_remedy_rejected"])["status"] == "REJECTED"
    remedy = state.instance(worlds.NATIVE["linked_remedy_pending"])
    widget_day = json.loads(remedy["form"])[0]["value"]["time"][:10].replace("-", "")
    assert state.attendance[worlds.RECORDS["remedy_linked"]]["date"] == widget_day


def test_attendance_records_cover_types_statuses_and_several_weeks(state):
    found = [state.attendance[i] for i in worlds.RECORDS.values()]
    assert {r["approval_type"] for r in found} == {"remedy", "leave", "out", "overtime", "trip"}
    assert {r["status"] for r in found if r["approval_type"] == "remedy"} == set(records.STATUSES)
    days = sorted(records.parse_day(r["date"]) for r in found)
    assert days[-1] - days[0] >= timedelta(days=35)  # more than one 30-day approvals query
    today = worlds.today_in_tenant(state.now())
    assert days[-1] <= today


def test_the_team_tree(state):
    lead = state.people["lead"]
    assert lead["department_ids"] == ["od-cs", "od-ops", "od-pmo"]
    led = [d["open_department_id"] for d in state.departments.values() if d["leader"] == "lead"]
    assert led == ["od-cs", "od-ops"]  # one manager leads two departments
    assert state.people["agent3"]["leader_user_id"] == ""  # a member without a leader
    assert state.departments["od-cs"]["deputies"] == ["agent1"]
    assert state.departments["od-cs-night"]["parent_department_id"] == "od-cs"
    assert state.people["pm1"]["leader_user_id"] == "u_lead" and state.departments["od-pmo"]["leader"] == "admin"


def test_the_team_lives_beside_the_legacy_users(state):
    assert list(state.users) == list(data.USERS)  # the legacy sample (the playground lists it) is unchanged
    assert set(state.people) == set(data.USERS) | {p[0] for p in worlds.TEAM}
    state.add_user("extra", departments=["od-ops"], leader="lead")
    assert "extra" in state.team and "extra" not in state.users and state.find_user("ou_extra")


def test_legacy_users_get_no_native_tasks(state):
    legacy = {u["user_id"] for name, u in data.USERS.items()}
    for code in worlds.NATIVE.values():
        assert not {t["user_id"] for t in state.instance(code)["task_list"]} & legacy


def test_dates_follow_the_sandbox_clock():
    early = SandboxState(clock=lambda: 1_700_000_000.0)  # 2023-11-15
    record = early.attendance[worlds.RECORDS["remedy_pending"]]
    assert records.parse_day(record["date"]) == date(2023, 11, 15) - timedelta(days=2)


def test_reset_forgets_new_submissions_and_subscriptions(state):
    code = state.submit_instance("purchase", "agent2")
    state.subscribe(data.DEFINITIONS["purchase"]["approval_code"])
    state.reset()
    assert state.instance(code) is None and state.subscriptions == set()


# -- layering -------------------------------------------------------------------------------------------------


def sandbox_imports(path: Path) -> set[str]:
    """Every sandbox module `path` imports, at the top or inside a function or TYPE_CHECKING block."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sandbox"):
            if node.module == "sandbox":
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("sandbox."))
    return found


def test_sandbox_modules_import_one_way():
    root = Path(data.__file__).parent
    graph = {p.stem: sandbox_imports(p) for p in root.glob("*.py")}
    done: set[str] = set()

    def visit(module, trail):
        assert module not in trail, f"import cycle: {' -> '.join([*trail, module])}"
        if module in done:
            return
        for other in graph.get(module, ()):
            visit(other, [*trail, module])
        done.add(module)

    for module in graph:
        visit(module, [])
    assert "state" not in graph["data"]
    for pure in ("flow", "records", "rules"):
        assert graph[pure] == set(), f"{pure} is pure"
