"""A manager's team's attendance records through the one pipeline: /pending lists them beside the native tasks, a
click on a record item answers with the list, that item done; approve all covers both worlds; a second list
follows; /revoke <id> needs no type; a stranger is told "not found"."""

from __future__ import annotations

import time
from typing import Any

import pytest

from handlers.pipeline import dispatch
from tests import cardwalk
from tests.fakes import FakeGateway, click, make_context, message

NATIVE = "81D31358-93AF-92D6-7425-01A5D67C4E71"


def soon() -> float:
    return time.monotonic() + 2.5


def person(name: str, departments: list[str], leader: str = "") -> dict[str, Any]:
    return {"user_id": f"u_{name}", "open_id": f"ou_{name}", "name": name.title(), "en_name": f"{name.title()} E",
            "department_ids": departments, "leader_user_id": f"u_{leader}" if leader else ""}


def remedy(approval_id: str, user: str, status: int = 0) -> dict[str, Any]:
    return {"kind": "remedy", "approval_id": approval_id, "user_id": f"u_{user}", "status": status,
            "remedy_date": 20261119, "punch_no": 0, "work_type": 1, "remedy_time": "2026-11-19 09:00",
            "reason": f"reason of {approval_id}"}


@pytest.fixture
def gateway() -> FakeGateway:
    people = [person("boss", ["od-a"]), person("ann", ["od-a"], "boss"), person("bob", ["od-a"], "boss"),
              person("zed", ["od-z"], "zoe"), person("zoe", ["od-z"])]
    gateway = FakeGateway(users={p["user_id"]: p for p in people})
    gateway.departments = {"od-a": {"leader_user_id": "u_boss"}, "od-z": {"leader_user_id": "u_zoe"}}
    gateway.records = [remedy("7001", "ann"), remedy("7002", "bob"), remedy("7009", "zed"),
                       {"kind": "leave", "approval_id": "7101", "user_id": "u_ann", "status": 2,
                        "start_time": "2026-11-18 09:00:00", "end_time": "2026-11-18 18:00:00", "interval": 28800,
                        "i18n_names": {"ch": "年假", "en": "Annual leave"}, "reason": "rest"}]
    gateway.instances[NATIVE] = {"instance_code": NATIVE, "approval_name": "Purchase", "status": "PENDING",
                                 "user_id": "u_ann", "open_id": "ou_ann", "form": "[]", "timeline": [],
                                 "task_list": [{"id": "t1", "user_id": "u_boss", "open_id": "ou_boss",
                                                "status": "PENDING"}]}
    gateway.tasks["ou_boss"] = [{"process_code": NATIVE, "title": "Purchase"}]
    return gateway


def _say(ctx: Any, gateway: FakeGateway, user: str, text: str) -> dict[str, Any]:
    dispatch(ctx, message(user, text), soon())
    return gateway.sent[-1]


def _ids(card: Any, action: str) -> list[str]:
    return [v["approval_id"] for v in cardwalk.callback_values(card) if v.get("action") == action]


def test_a_record_item_click_answers_with_the_list_that_item_done(gateway):
    ctx = make_context(gateway)
    older = _say(ctx, gateway, "boss", "/pending")
    listed = _say(ctx, gateway, "boss", "/pending")
    assert _ids(listed["card"], "approve") == [NATIVE, "7001", "7002"]
    assert "7009" not in str(listed["card"]) and "Ann E" in cardwalk.markdown(listed["card"])
    value = next(v for v in cardwalk.callback_values(listed["card"])
                 if v.get("action") == "approve" and v["approval_id"] == "7001")
    answer = dispatch(ctx, click("boss", value, message_id=listed["message_id"]), soon())
    card = answer.body["card"]["data"]
    assert answer.body["toast"]["content"] == "Approved"
    assert _ids(card, "approve") == [NATIVE, "7002"] and "7001" in _ids(card, "show")  # a list still
    assert ("process", ("7001", "remedy", 2)) in gateway.calls
    assert "7001" not in _ids(dict(gateway.patched)[older["message_id"]], "approve")  # the other list follows
    told = [s for s in gateway.sent if s["to"] == "ou_ann"]
    assert told, "the requester is told: attendance tells nobody"


def test_approve_all_shown_covers_tasks_and_records(gateway):
    ctx = make_context(gateway)
    listed = _say(ctx, gateway, "boss", "/pending")
    every = next(v for v in cardwalk.callback_values(listed["card"]) if v.get("action") == "approve_all")
    answer = dispatch(ctx, click("boss", every, message_id=listed["message_id"]), soon())
    assert _ids(answer.body["card"]["data"], "approve") == []
    assert gateway.count("task_approve") == 1 and gateway.count("process") == 2


def test_revoke_needs_no_type_and_a_stranger_is_told_not_found(gateway):
    ctx = make_context(gateway)
    team = _say(ctx, gateway, "boss", "/team")
    assert "7101" in _ids(team["card"], "revoke")
    stranger = _say(ctx, gateway, "zoe", "/revoke 7101")
    assert "No approval 7101" in cardwalk.markdown(stranger["card"]) and gateway.count("process") == 0
    _say(ctx, gateway, "boss", "/revoke 7101")
    assert ("process", ("7101", "leave", 4)) in gateway.calls
