"""sandbox.flow against the approval_task / approval_instance event pages: which tasks open, close and are
pushed, in which order, for OR and AND nodes, reject, transfer, cancel and revert."""

from __future__ import annotations

import itertools

import pytest

from sandbox import flow

A = {"user_id": "u_a", "open_id": "ou_a"}
B = {"user_id": "u_b", "open_id": "ou_b"}
C = {"user_id": "u_c", "open_id": "ou_c"}
SUBMITTER = {"user_id": "u_s", "open_id": "ou_s"}


def instance(*nodes):
    return {"instance_code": "CODE", "approval_code": "DEF", "status": "PENDING", "task_list": [], "timeline": [],
            "_nodes": list(nodes), "_node": -1, "start_time": "0", "end_time": "0", "reverted": False}


@pytest.fixture
def ids():
    counter = itertools.count(1)
    return lambda: f"t{next(counter)}"


def two_step(ids):
    inst = instance(flow.node("n1", "Manager", [A], kind="OR", custom_node_id="manager"),
                    flow.node("n2", "Finance", [B, C], kind="AND", custom_node_id="finance"))
    events = flow.start(inst, SUBMITTER, "1000", ids)
    return inst, events


def pushed(events):
    return [(e.kind, e.status, e.task_id, e.user_id) for e in events]


def test_start_opens_only_the_first_node(ids):
    inst, events = two_step(ids)
    assert pushed(events) == [("instance", "PENDING", "", ""), ("task", "PENDING", "t1", "u_a")]
    assert [(t["id"], t["status"], t["node_id"]) for t in inst["task_list"]] == [("t1", "PENDING", "n1")]
    assert inst["timeline"] == [{"type": "START", "create_time": "1000", "user_id": "u_s", "open_id": "ou_s",
                                 "ext": "{}", "node_key": ""}]


def test_or_node_pass_opens_the_and_node_and_the_last_and_pass_approves(ids):
    inst, _ = two_step(ids)
    first = flow.approve(inst, flow.find_task(inst, "t1"), "ok", "2000", ids)
    assert pushed(first) == [("task", "APPROVED", "t1", "u_a"), ("task", "PENDING", "t2", "u_b"),
                             ("task", "PENDING", "t3", "u_c")]
    assert first[1].custom_key == "finance" and first[1].def_key == "n2"
    assert inst["status"] == "PENDING" and inst["timeline"][-1]["type"] == "PASS"
    assert inst["timeline"][-1]["comment"] == "ok" and inst["timeline"][-1]["node_key"] == "MANAGER"
    second = flow.approve(inst, flow.find_task(inst, "t2"), "", "3000", ids)
    # AND: the remaining task of the node is pushed PENDING again
    assert pushed(second) == [("task", "APPROVED", "t2", "u_b"), ("task", "PENDING", "t3", "u_c")]
    assert inst["status"] == "PENDING"
    last = flow.approve(inst, flow.find_task(inst, "t3"), "", "4000", ids)
    assert pushed(last) == [("task", "APPROVED", "t3", "u_c"), ("instance", "APPROVED", "", "")]
    assert (inst["status"], inst["end_time"]) == ("APPROVED", "4000")


def test_or_node_with_two_approvers_closes_the_other_as_done(ids):
    inst = instance(flow.node("n1", "Either", [A, B], kind="OR"))
    flow.start(inst, SUBMITTER, "1000", ids)
    events = flow.approve(inst, flow.find_task(inst, "t2"), "", "2000", ids)
    assert pushed(events) == [("task", "APPROVED", "t2", "u_b"), ("task", "DONE", "t1", "u_a"),
                              ("instance", "APPROVED", "", "")]


def test_reject_closes_every_open_task_and_ends_the_instance(ids):
    inst, _ = two_step(ids)
    flow.approve(inst, flow.find_task(inst, "t1"), "", "2000", ids)
    events = flow.reject(inst, flow.find_task(inst, "t2"), "too expensive", "3000")
    assert pushed(events) == [("task", "REJECTED", "t2", "u_b"), ("task", "DONE", "t3", "u_c"),
                              ("instance", "REJECTED", "", "")]
    assert inst["timeline"][-1]["type"] == "REJECT" and inst["timeline"][-1]["comment"] == "too expensive"
    assert flow.open_tasks(inst) == []


def test_transfer_hands_the_task_over_in_the_same_node(ids):
    inst, _ = two_step(ids)
    events = flow.transfer(inst, flow.find_task(inst, "t1"), C, "on leave", "2000", ids)
    assert pushed(events) == [("task", "TRANSFERRED", "t1", "u_a"), ("task", "PENDING", "t2", "u_c")]
    entry = inst["timeline"][-1]
    assert (entry["type"], entry["user_id"], entry["user_id_list"], entry["comment"]) == (
        "TRANSFER", "u_a", ["u_c"], "on leave")
    assert '"user_id_list": ["u_c"]' in entry["ext"]
    assert pushed(flow.approve(inst, flow.find_task(inst, "t2"), "", "3000", ids)) == [
        ("task", "APPROVED", "t2", "u_c"), ("task", "PENDING", "t3", "u_b"), ("task", "PENDING", "t4", "u_c")]


def test_cancel_and_revert(ids):
    inst, _ = two_step(ids)
    events = flow.cancel(inst, SUBMITTER, "2000")
    assert pushed(events) == [("task", "DONE", "t1", "u_a"), ("instance", "CANCELED", "", "")]
    assert inst["timeline"][-1]["type"] == "CANCEL" and inst["status"] == "CANCELED"
    approved = instance(flow.node("n1", "Manager", [A]))
    flow.start(approved, SUBMITTER, "1000", ids)
    flow.approve(approved, flow.open_tasks(approved)[0], "", "2000", ids)
    events = flow.revert(approved, SUBMITTER, "3000")
    assert pushed(events) == [("instance", "REVERTED", "", "")]
    assert (approved["status"], approved["reverted"]) == ("APPROVED", True)


def test_a_flat_legacy_task_list_finishes_when_no_task_is_left(ids):
    inst = {"instance_code": "X", "approval_code": "D", "status": "PENDING", "timeline": [],
            "task_list": [{"id": "1", "user_id": "u_a", "status": "APPROVED", "node_id": "n1", "type": "AND"},
                          {"id": "2", "user_id": "u_b", "status": "PENDING", "node_id": "n2", "type": "AND"}]}
    assert pushed(flow.approve(inst, flow.find_task(inst, "2"), "", "5", ids))[-1] == ("instance", "APPROVED", "",
                                                                                       "")


def test_node_specs_are_checked():
    with pytest.raises(ValueError):
        flow.node("n", "x", [A], kind="SEQUENTIAL")
    with pytest.raises(ValueError):
        flow.node("n", "x", [])
