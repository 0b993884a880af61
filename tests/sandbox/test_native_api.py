"""Approval v4 actions through the Flask test client: tasks approve/reject/transfer, instances/cancel, subscribe,
every documented error code, the checks on the task's owner and status, and faults."""

from __future__ import annotations

import pytest

from sandbox import data, worlds
from sandbox.state import SandboxState
from tests.sandbox.conftest import Api

APPROVE = "/open-apis/approval/v4/tasks/approve"
REJECT = "/open-apis/approval/v4/tasks/reject"
TRANSFER = "/open-apis/approval/v4/tasks/transfer"
CANCEL = "/open-apis/approval/v4/instances/cancel"
PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]
LEAVE = data.DEFINITIONS["native_leave"]["approval_code"]


def subscribe_url(code: str) -> str:
    return f"/open-apis/approval/v4/approvals/{code}/subscribe"


def pending_task(state, code, user):
    inst = state.instance(code)
    return next(t for t in inst["task_list"] if t["status"] == "PENDING" and t["user_id"] == f"u_{user}")


def task_body(state, name, user, *, who=None, **extra):
    code = worlds.NATIVE[name]
    inst = state.instance(code)
    task = pending_task(state, code, user)
    return {"approval_code": inst["approval_code"], "instance_code": code, "user_id": who or f"ou_{user}",
            "task_id": task["id"], **extra}


def test_approve_moves_the_two_step_purchase_to_its_and_node(api, state):
    answer = api.post(APPROVE, task_body(state, "purchase_step1", "lead", comment="OK"))
    assert (answer.status, answer.json) == (200, {"code": 0, "msg": "success", "data": {}})
    inst = api.instance(worlds.NATIVE["purchase_step1"]).json["data"]
    assert inst["status"] == "PENDING"
    assert [(t["user_id"], t["status"]) for t in inst["task_list"]] == [
        ("u_lead", "APPROVED"), ("u_finance", "PENDING"), ("u_office", "PENDING")]
    assert (inst["timeline"][-1]["type"], inst["timeline"][-1]["user_id"], inst["timeline"][-1]["comment"]) == (
        "PASS", "u_lead", "OK")
    assert not any(key.startswith("_") for key in inst)  # the sandbox's route is never rendered


def test_the_and_node_needs_every_approver(api, state):
    name = "purchase_step2"
    assert api.post(APPROVE, task_body(state, name, "finance")).code == 0
    assert api.instance(worlds.NATIVE[name]).json["data"]["status"] == "PENDING"
    assert api.post(APPROVE, task_body(state, name, "office", who="u_office"), user_id_type="user_id").code == 0
    inst = api.instance(worlds.NATIVE[name]).json["data"]
    assert inst["status"] == "APPROVED" and inst["end_time"] != "0" and inst["reverted"] is False


def test_reject_ends_the_instance(api, state):
    assert api.post(REJECT, task_body(state, "purchase_step2", "office", comment="over budget")).code == 0
    inst = api.instance(worlds.NATIVE["purchase_step2"]).json["data"]
    assert inst["status"] == "REJECTED"
    assert [t["status"] for t in inst["task_list"]] == ["APPROVED", "DONE", "REJECTED"]
    assert inst["timeline"][-1]["type"] == "REJECT" and inst["timeline"][-1]["comment"] == "over budget"


def test_transfer_hands_the_task_to_someone_else(api, state):
    body = task_body(state, "leave_pending", "lead", transfer_user_id="ou_designlead", comment="away")
    assert api.post(TRANSFER, body).code == 0
    inst = state.instance(worlds.NATIVE["leave_pending"])
    assert [(t["user_id"], t["status"]) for t in inst["task_list"]] == [("u_lead", "TRANSFERRED"),
                                                                        ("u_designlead", "PENDING")]
    assert inst["timeline"][-1]["type"] == "TRANSFER" and inst["timeline"][-1]["user_id_list"] == ["u_designlead"]
    stale = {k: v for k, v in body.items() if k != "transfer_user_id"}
    answer = api.post(APPROVE, stale)
    assert answer.code == 1390001 and "is TRANSFERRED, not PENDING" in answer.json["msg"]
    assert api.post(APPROVE, task_body(state, "leave_pending", "designlead")).code == 0
    assert state.instance(worlds.NATIVE["leave_pending"])["status"] == "APPROVED"


def test_transfer_refusals(api, state):
    to_self = task_body(state, "leave_pending", "lead", transfer_user_id="ou_lead")
    assert "own approver" in api.post(TRANSFER, to_self).json["msg"]
    to_nobody = {**to_self, "transfer_user_id": "ou_nobody"}
    assert "transfer_user_id 'ou_nobody' is not a user" in api.post(TRANSFER, to_nobody).json["msg"]
    missing = {k: v for k, v in to_self.items() if k != "transfer_user_id"}
    assert api.post(TRANSFER, missing).code == 1390001
    already = task_body(state, "purchase_step2", "finance", transfer_user_id="ou_office")
    assert "already holds a task" in api.post(TRANSFER, already).json["msg"]


@pytest.mark.parametrize(("change", "code", "says"), [
    ({"approval_code": "00000000-0000-0000-0000-000000000000"}, 1390002, "approval code not found"),
    ({"instance_code": "00000000-0000-0000-0000-000000000001"}, 1390003, "instance code not found"),
    ({"approval_code": LEAVE}, 1390001, "another approval definition"),
    ({"task_id": "7420999999999999999"}, 1390010, "task not found"),
    ({"user_id": "ou_agent1"}, 1390001, "not assigned to user ou_agent1"),
    ({"user_id": "ou_nobody"}, 1390001, "is not a user"),
    ({"user_id": ""}, 1390001, "must not be empty"),
    ({"task_id": None}, 1390001, "task_id is required"),
    ({"form": "not json"}, 1390001, "form is not a JSON string"),
])
def test_approve_checks_and_codes(api, state, change, code, says):
    body = {k: v for k, v in {**task_body(state, "purchase_step1", "lead"), **change}.items() if v is not None}
    answer = api.post(APPROVE, body)
    assert (answer.status, answer.code) == (400, code)
    assert says in answer.json["msg"]
    assert state.instance(worlds.NATIVE["purchase_step1"])["task_list"][0]["status"] == "PENDING"


def test_a_task_that_is_not_pending_is_refused_with_1390001(api, state):
    done = state.instance(worlds.NATIVE["leave_approved"])
    task = done["task_list"][0]
    answer = api.post(APPROVE, {"approval_code": LEAVE, "instance_code": done["instance_code"],
                                "user_id": task["open_id"], "task_id": task["id"]})
    assert answer.code == 1390001 and "is APPROVED, not PENDING" in answer.json["msg"]


def test_user_id_type_is_checked(api, state):
    body = task_body(state, "purchase_step1", "lead")
    assert api.post(APPROVE, body, user_id_type="email").code == 1390001
    assert api.post(APPROVE, body, user_id_type="user_id").code == 1390001  # ou_lead is not a user_id
    assert api.post(APPROVE, {**body, "user_id": "u_lead"}, user_id_type="user_id").code == 0


def test_a_handwritten_signature_is_1390018(api, state):
    answer = api.post(APPROVE, task_body(state, "contract_pending", "lead"))
    assert (answer.status, answer.code, answer.json["msg"]) == (400, 1390018, "not support handwritten signature")
    assert api.post(REJECT, task_body(state, "contract_pending", "lead")).code == 1390018


def test_bad_bodies(api):
    assert api.post(APPROVE, raw=b"{not json").code == 1390001
    assert api.post(APPROVE, {"approval_code": 1, "instance_code": "x", "user_id": "y", "task_id": "z"}).code == 9499


def test_tasks_work_on_the_sales_teams_instances_and_attendance_knows_nothing_of_them(api, state):
    code = data.INSTANCES["remedy_pending"]
    inst = state.instance(code)
    task = inst["task_list"][0]
    assert api.post(APPROVE, {"approval_code": inst["approval_code"], "instance_code": code,
                              "user_id": "ou_manager", "task_id": task["id"]}).code == 0
    assert state.instance(code)["status"] == "APPROVED"
    assert state.record(code) is None  # a native instance code names no attendance record
    assert api.process(code, "remedy", 4).code == 1220600


# -- cancel -------------------------------------------------------------------------------------------------------


def cancel_body(state, name, user):
    code = worlds.NATIVE[name]
    return {"approval_code": state.instance(code)["approval_code"], "instance_code": code, "user_id": f"ou_{user}"}


def test_the_submitter_cancels_a_pending_instance(api, state):
    assert api.post(CANCEL, cancel_body(state, "purchase_step2", "agent2")).code == 0
    inst = api.instance(worlds.NATIVE["purchase_step2"]).json["data"]
    assert inst["status"] == "CANCELED"
    assert [t["status"] for t in inst["task_list"]] == ["APPROVED", "DONE", "DONE"]
    assert (inst["timeline"][-1]["type"], inst["timeline"][-1]["user_id"]) == ("CANCEL", "u_agent2")
    assert api.post(CANCEL, cancel_body(state, "purchase_step2", "agent2")).code == 1390001  # already CANCELED


def test_an_approved_leave_is_reverted_within_its_window(api, state):
    body = cancel_body(state, "leave_approved", "agent2")
    assert api.post(CANCEL, body).code == 0
    inst = api.instance(worlds.NATIVE["leave_approved"]).json["data"]
    assert (inst["status"], inst["reverted"]) == ("APPROVED", True)  # GET never says REVERTED
    assert "reverted" in api.post(CANCEL, body).json["msg"]
    state.advance(40 * 86400)
    api.refresh_token()  # the old tenant token expired meanwhile
    late = cancel_body(state, "linked_leave_approved", "agent2")
    assert "30 days" in api.post(CANCEL, late).json["msg"]


@pytest.mark.parametrize(("name", "user", "says"), [
    ("purchase_step1", "lead", "is not the submitter"),
    ("contract_pending", "ops1", "does not allow withdrawing"),
    ("linked_remedy_approved", "ops1", "does not allow revoking"),
    ("leave_rejected", "ops1", "is REJECTED"),
])
def test_cancel_refusals(api, state, name, user, says):
    answer = api.post(CANCEL, cancel_body(state, name, user))
    assert answer.code == 1390001 and says in answer.json["msg"]


def test_instance_get_only_shows_the_statuses_of_its_page(api):
    seen = {api.instance(code).json["data"]["status"] for code in worlds.NATIVE.values()}
    assert seen <= {"PENDING", "APPROVED", "REJECTED", "CANCELED", "DELETED"}


# -- subscriptions ---------------------------------------------------------------------------------------------


def test_subscribe_once_per_definition(api, state):
    first = api.post(subscribe_url(PURCHASE))
    assert (first.status, first.json) == (200, {"code": 0, "msg": "success", "data": {}})
    again = api.post(subscribe_url(PURCHASE))
    assert (again.status, again.code, again.json["msg"]) == (400, 1390007, "subscription existed")
    assert api.post(subscribe_url("00000000-0000-0000-0000-000000000000")).code == 1390002
    assert state.subscriptions == {PURCHASE}


# -- faults -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["task_approve", "task_reject", "task_transfer", "instance_cancel"])
def test_faults_on_the_task_endpoints(api, state, endpoint):
    url = {"task_approve": APPROVE, "task_reject": REJECT, "task_transfer": TRANSFER, "instance_cancel": CANCEL}
    state.inject(endpoint, id=worlds.NATIVE["purchase_step1"], http_status=500, times=1)
    body = (cancel_body(state, "purchase_step1", "agent1") if endpoint == "instance_cancel"
            else task_body(state, "purchase_step1", "lead", transfer_user_id="ou_office"))
    failed = api.post(url[endpoint], body)
    assert (failed.status, failed.code) == (500, 1395001)  # the approval family's "try again later"
    assert state.instance(worlds.NATIVE["purchase_step1"])["task_list"][0]["status"] == "PENDING"
    assert api.post(url[endpoint], body).code == 0


def test_a_rate_limited_approve_is_not_applied(api, state):
    state.inject("task_approve", rate_limit_reset_s=3, times=1)
    answer = api.post(APPROVE, task_body(state, "purchase_step1", "lead"))
    assert (answer.status, answer.code, answer.headers["x-ogw-ratelimit-reset"]) == (429, 99991400, "3")
    assert state.instance(worlds.NATIVE["purchase_step1"])["status"] == "PENDING"


def test_subscribe_faults(api, state):
    state.inject("approval_subscribe", id=PURCHASE, code=1395001, times=1)
    assert api.post(subscribe_url(PURCHASE)).code == 1395001
    assert api.post(subscribe_url(PURCHASE)).code == 0


# -- to-dos and snapshots ----------------------------------------------------------------------------------------


def test_native_tasks_show_in_the_approvers_to_dos(api, state):
    todo = api.get("/open-apis/approval/v4/tasks/query", user_id="ou_lead", topic="1").json["data"]["tasks"]
    assert {t["process_code"] for t in todo} == {worlds.NATIVE[n] for n in (
        "leave_pending", "purchase_step1", "contract_pending", "linked_remedy_pending")}
    purchase = next(t for t in todo if t["process_code"] == worlds.NATIVE["purchase_step1"])
    assert purchase["definition_name"] == "采购申请" and purchase["task_id"] == pending_task(
        state, worlds.NATIVE["purchase_step1"], "lead")["id"]
    assert api.post(APPROVE, task_body(state, "purchase_step1", "lead")).code == 0
    after = api.get("/open-apis/approval/v4/tasks/query", user_id="ou_finance", topic="1").json["data"]["tasks"]
    assert worlds.NATIVE["purchase_step1"] in {t["process_code"] for t in after}


def test_the_snapshot_control_names_attendance_records_and_instances_apart(api):
    record = api.client.get(f"/_sandbox/state/{worlds.RECORDS['remedy_linked']}").get_json()
    assert record["attendance"]["status"] == 0 and record["instance"] is None
    native = api.client.get(f"/_sandbox/state/{worlds.NATIVE['linked_remedy_pending']}").get_json()
    assert native["instance"]["status"] == "PENDING" and native["attendance"] is None


# -- rate limits ---------------------------------------------------------------------------------------------------


def test_task_calls_allow_100_per_minute_and_a_throttled_call_is_not_applied():
    state = SandboxState(clock=lambda: 1_800_000_000.0)  # a frozen clock: every call in the same minute
    api = Api(state)
    bogus = {**task_body(state, "purchase_step1", "lead"), "task_id": "1"}
    assert {api.post(APPROVE, bogus).code for _ in range(99)} == {1390010}  # refused calls count too
    assert api.post(APPROVE, task_body(state, "purchase_step1", "lead")).code == 0  # the 100th
    throttled = api.post(APPROVE, task_body(state, "purchase_step1", "finance"))
    assert (throttled.status, throttled.code) == (429, 99991400)
    assert (throttled.headers["x-ogw-ratelimit-limit"], throttled.headers["x-ogw-ratelimit-reset"]) == ("100", "60")
    assert pending_task(state, worlds.NATIVE["purchase_step1"], "finance")  # not applied
    assert api.post(REJECT, task_body(state, "purchase_step2", "finance")).code == 0  # per endpoint
    state.advance(60)
    assert api.post(APPROVE, task_body(state, "purchase_step1", "finance")).code == 0


def test_rate_limits_can_be_turned_off_for_a_test(state, api):
    state.rate_limits.clear()
    bogus = {**task_body(state, "purchase_step1", "lead"), "task_id": "1"}
    assert {api.post(APPROVE, bogus).code for _ in range(101)} == {1390010}
