"""approval_task / approval_instance events: pushed to the event target (encrypted and signed, through lark-oapi's
own dispatcher on a stub bot) only for subscribed definitions, in Feishu's order, with the pages' fields and
types."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lark_oapi as lark
import pytest
from flask import Flask, Response, request
from lark_oapi.core.model import RawRequest

from sandbox import data, worlds
from sandbox.sender import EventSender
from sandbox.server import ServerThread
from sandbox.state import EventTarget
from tests.sandbox.conftest import Api

KEY = "events-encrypt-key"
VT = "events-verification-token"
APPROVE = "/open-apis/approval/v4/tasks/approve"
PURCHASE = data.DEFINITIONS["purchase"]["approval_code"]
LEAVE = data.DEFINITIONS["native_leave"]["approval_code"]
TASK_FIELDS = {"app_id", "open_id", "tenant_key", "type", "approval_code", "instance_code", "task_id", "user_id",
               "status", "operate_time", "custom_key", "def_key", "extra"}


class StubBot:
    """A bot that only reads approval events, with lark-oapi's dispatcher (it verifies and decrypts)."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        handler = (lark.EventDispatcherHandler.builder(KEY, VT, lark.LogLevel.ERROR)
                   .register_p1_customized_event("approval_task", self._seen)
                   .register_p1_customized_event("approval_instance", self._seen).build())
        self.app = Flask("stub-approval-bot")

        @self.app.post("/webhook/event")
        def event() -> Response:
            raw = RawRequest()
            raw.uri, raw.headers, raw.body = "/webhook/event", dict(request.headers), request.get_data()
            answer = handler.do(raw)
            return Response(answer.content, status=answer.status_code)

    def _seen(self, event: Any) -> None:
        self.events.append(event.event)


@pytest.fixture
def bot(state) -> Iterator[StubBot]:
    stub = StubBot()
    with ServerThread(stub.app) as server:
        state.event_target = EventTarget(url=server.url, encrypt_key=KEY, verification_token=VT)
        yield stub


def wait(state, n: int) -> list[dict[str, Any]]:
    assert state.wait_notifications(n, timeout=5), state.notifications
    return state.notifications


def approve(api: Api, state, name: str, user: str) -> None:
    code = worlds.NATIVE[name]
    inst = state.instance(code)
    task = next(t for t in inst["task_list"] if t["status"] == "PENDING" and t["user_id"] == f"u_{user}")
    body = {"approval_code": inst["approval_code"], "instance_code": code, "user_id": f"ou_{user}",
            "task_id": task["id"]}
    assert api.post(APPROVE, body).code == 0


def test_approving_a_subscribed_definition_pushes_the_next_approvers_turn(api, state, bot):
    assert api.post(f"/open-apis/approval/v4/approvals/{PURCHASE}/subscribe").code == 0
    approve(api, state, "purchase_step1", "lead")
    entries = wait(state, 3)
    assert [(e["type"], e["status"], e["http_status"]) for e in entries] == [
        ("approval_task", "APPROVED", 200), ("approval_task", "PENDING", 200), ("approval_task", "PENDING", 200)]
    assert [(e["status"], e["user_id"], e["open_id"]) for e in bot.events] == [
        ("APPROVED", "u_lead", "ou_lead"), ("PENDING", "u_finance", "ou_finance"), ("PENDING", "u_office", "ou_office")]
    pending = bot.events[1]
    assert set(pending) == TASK_FIELDS and pending["type"] == "approval_task"
    assert all(isinstance(pending[k], str) for k in TASK_FIELDS)
    inst = state.instance(worlds.NATIVE["purchase_step1"])
    assert pending["task_id"] == inst["task_list"][1]["id"] and pending["custom_key"] == "finance"
    assert pending["def_key"] == inst["task_list"][1]["node_id"] and pending["approval_code"] == PURCHASE
    approve(api, state, "purchase_step1", "finance")
    approve(api, state, "purchase_step1", "office")
    wait(state, 7)
    assert [(e["type"], e["status"]) for e in bot.events[3:]] == [
        ("approval_task", "APPROVED"), ("approval_task", "PENDING"),  # the AND node re-pushes office's PENDING
        ("approval_task", "APPROVED"), ("approval_instance", "APPROVED")]
    assert bot.events[-1]["instance_code"] == worlds.NATIVE["purchase_step1"]


def test_nothing_is_pushed_for_an_unsubscribed_definition(api, state, bot):
    api.post(f"/open-apis/approval/v4/approvals/{PURCHASE}/subscribe")
    approve(api, state, "leave_pending", "lead")  # native_leave is not subscribed
    assert state.instance(worlds.NATIVE["leave_pending"])["status"] == "APPROVED"
    assert not state.wait_notifications(1, timeout=0.3)
    assert bot.events == [] and state.approval_events == []


def test_a_new_submission_and_its_withdrawal(api, state, bot):
    api.post(f"/open-apis/approval/v4/approvals/{LEAVE}/subscribe")
    code = state.submit_instance("native_leave", "agent2")
    wait(state, 2)
    assert [(e["type"], e["status"], e.get("user_id")) for e in bot.events] == [
        ("approval_instance", "PENDING", None), ("approval_task", "PENDING", "u_lead")]
    assert state.instance(code)["timeline"][0]["type"] == "START"
    assert bot.events[0]["uuid"] == state.instance(code)["uuid"]  # the instance's own uuid
    body = {"approval_code": LEAVE, "instance_code": code, "user_id": "ou_agent2"}
    assert api.post("/open-apis/approval/v4/instances/cancel", body).code == 0
    wait(state, 4)
    assert [(e["type"], e["status"]) for e in bot.events[2:]] == [("approval_task", "DONE"),
                                                                  ("approval_instance", "CANCELED")]


def test_a_revert_pushes_reverted_with_an_int_operate_time(api, state, bot):
    api.post(f"/open-apis/approval/v4/approvals/{LEAVE}/subscribe")
    body = {"approval_code": LEAVE, "instance_code": worlds.NATIVE["leave_approved"], "user_id": "ou_agent2"}
    assert api.post("/open-apis/approval/v4/instances/cancel", body).code == 0
    wait(state, 1)
    event = bot.events[0]
    assert (event["status"], type(event["operate_time"]), type(event["instance_operate_time"])) == (
        "REVERTED", int, str)


def test_events_are_recorded_without_a_target(api, state):
    api.post(f"/open-apis/approval/v4/approvals/{PURCHASE}/subscribe")
    approve(api, state, "purchase_step2", "finance")
    assert [(e.kind, e.status, e.user_id) for e in state.approval_events] == [
        ("task", "APPROVED", "u_finance"), ("task", "PENDING", "u_office")]
    assert state.notifications == []


def test_the_sender_builds_approval_task_events_the_sdk_accepts():
    seen: list[Any] = []
    handler = (lark.EventDispatcherHandler.builder(KEY, VT, lark.LogLevel.ERROR)
               .register_p1_customized_event("approval_task", seen.append).build())
    sender = EventSender("http://127.0.0.1:9", encrypt_key=KEY, verification_token=VT)
    headers, body = sender.seal(sender.approval_task_payload("CODE", "123", "PENDING", approval_code=PURCHASE,
                                                             user_id="u_lead", open_id="ou_lead"))
    raw = RawRequest()
    raw.uri, raw.headers, raw.body = "/webhook/event", headers, body
    assert handler.do(raw).status_code == 200
    assert seen[0].event["task_id"] == "123" and seen[0].event["status"] == "PENDING"


def test_control_endpoint_submits_to_both_worlds(api, state):
    client = api.client
    native = client.post("/_sandbox/submit", json={"kind": "native", "definition": "purchase", "requester": "ops1"})
    code = native.get_json()["instance_code"]
    assert state.instance(code)["task_list"][0]["user_id"] == "u_lead"
    remedy = client.post("/_sandbox/submit", json={"kind": "remedy", "employee": "ops1", "remedy_date": 20261130,
                                                   "punch_no": 0, "work_type": 1, "remedy_time": "2026-11-30 09:00",
                                                   "reason": "forgot"}).get_json()
    assert state.attendance[remedy["approval_id"]]["status"] == 0
    leave = client.post("/_sandbox/submit", json={"kind": "leave", "employee": "ops1", "date": "20261130",
                                                  "item": {"reason": "r"}}).get_json()
    assert state.attendance[leave["approval_id"]]["status"] == 2
    assert client.post("/_sandbox/submit", json={"kind": "native", "definition": "nope",
                                                 "requester": "ops1"}).status_code == 400
    assert client.post("/_sandbox/submit", json={"kind": "fax"}).status_code == 400
    assert client.post("/_sandbox/contact_scope", json={"departments": ["od-ops"]}).status_code == 200
    assert state.contact_scope is not None and not state.may_read_user(state.people["agent1"])
    assert client.post("/_sandbox/contact_scope", json={}).get_json() == {"contact_scope": None}
    samples = client.get("/_sandbox/samples").get_json()
    assert samples["native"] == dict(worlds.NATIVE) and samples["attendance"] == dict(worlds.RECORDS)


def test_deleting_a_definition_closes_its_pending_instances(api, state, bot):
    api.post(f"/open-apis/approval/v4/approvals/{PURCHASE}/subscribe")
    closed = state.delete_definition("purchase")
    assert set(closed) == {worlds.NATIVE["purchase_step1"], worlds.NATIVE["purchase_step2"],
                           data.INSTANCES["purchase_two_step"]}
    wait(state, 7)  # step1 and the sales team's: one open task each; step2: two; an instance event each
    assert sorted((e["type"], e["status"]) for e in bot.events) == sorted(
        [("approval_task", "DONE")] * 4 + [("approval_instance", "DELETED")] * 3)
    assert api.instance(worlds.NATIVE["purchase_step1"]).json["data"]["status"] == "DELETED"
    assert api.post(f"/open-apis/approval/v4/approvals/{PURCHASE}/subscribe").code == 1390002
    task = state.instance(worlds.NATIVE["purchase_step2"])["task_list"][1]
    body = {"approval_code": PURCHASE, "instance_code": worlds.NATIVE["purchase_step2"], "user_id": "ou_finance",
            "task_id": task["id"]}
    assert api.post(APPROVE, body).code == 1390002
