"""The action workflow (handlers/workflow.py) with a fake gateway and store: what is sent to Feishu, what is
audited and what the person is told, for each path through it."""

from __future__ import annotations

import pytest

from core.errors import FeishuError
from core.outcome import Status
from core.rules import Action, Actor
from handlers.workflow import ActionRequest, act, perform
from tests import samples
from tests.fakes import FakeGateway, FakeStore, make_context

MANAGER = Actor("ou_manager", "u_manager")
EMPLOYEE = Actor("ou_employee", "u_employee")
STRANGER = Actor("ou_stranger")
ADMIN = Actor("ou_admin")
PENDING = "7100000000000000001"
APPROVED = "7100000000000000002"
LINKED = "7100000000000000006"
LEAVE = "7100000000000000007"


@pytest.fixture
def gateway() -> FakeGateway:
    instances = {d["instance_code"]: d for d in (samples.remedy_pending(), samples.remedy_approved(),
                                                 samples.attendance_field(), samples.leave_pending())}
    return FakeGateway(instances=instances, names={"ou_manager": "Manager Wang"})


@pytest.fixture
def store() -> FakeStore:
    return FakeStore()


def test_a_native_approval_is_approved_through_the_approvers_own_task(gateway, store):
    ctx = make_context(gateway, store)
    outcome = perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER, reason="ok"))
    assert outcome.status is Status.DONE and outcome.approval.status.value == "APPROVED"
    assert [c for c in gateway.calls if c[0].startswith("task_")] == [("task_approve", (PENDING, "t1", "ou_manager",
                                                                                          "ok"))]
    assert gateway.count("process") == 0  # an instance code is never sent to attendance
    assert [(r.outcome, r.operator, r.log_id) for r in store.audit] == [("done", "ou_manager", "log-task-approve")]
    assert [i["state"] for i in store.intents.values()] == ["done"]  # the audit row settled the intent
    assert list(store.intents.values())[0]["detail"]["task_id"] == "t1"


def test_an_admin_without_a_task_may_not_act_on_a_native_approval(gateway, store):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, ADMIN))
    assert outcome.refused.key == "not_your_task" and gateway.calls == [("instance_get", PENDING)]


def test_a_native_approval_is_not_revoked_by_the_bot(gateway, store):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.REVOKE, APPROVED, MANAGER))
    assert outcome.refused.key == "native_revoke" and gateway.count("process") == 0


def _record(approval_id: str, status: int, kind: str = "remedy") -> dict:
    return {"approval_id": approval_id, "status": status, "user_id": "u_employee", "kind": kind}


def test_a_linked_approval_is_processed_on_its_attendance_id_with_the_record_as_truth(gateway, store):
    gateway.records.append(_record("6737202939523236113", 0))
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, LINKED, MANAGER))
    assert outcome.status is Status.DONE
    assert ("process", ("6737202939523236113", "remedy", 2)) in gateway.calls
    assert gateway.count("task_approve") == 0


def test_a_linked_approval_whose_record_is_decided_is_refused_whatever_the_instance_says(gateway, store):
    gateway.records.append(_record("6737202939523236113", 2))  # approved in attendance; the instance is PENDING
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, LINKED, MANAGER))
    assert outcome.refused.key == "already_approved" and gateway.count("process") == 0


def test_a_linked_approval_without_its_record_is_refused(gateway, store):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, LINKED, MANAGER))
    assert outcome.refused.key == "record_not_found" and gateway.count("process") == 0


def test_a_second_click_says_who_did_it_without_calling_feishu(gateway, store):
    ctx = make_context(gateway, store)
    perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
    again = act(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert gateway.count("task_approve") == 1
    assert again.toast.kind == "warning" and "Already done: approve by Manager Wang" in again.toast.text
    assert [r.message for r in store.audit] == ["", "already_done"]


@pytest.mark.parametrize(("actor", "key"), [(EMPLOYEE, "own_request"), (STRANGER, "not_found"),
                                           (Actor("ou_manager2"), "not_found")])
def test_people_who_may_not_act_are_refused_and_audited(gateway, store, actor, key):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, actor))
    assert outcome.status is Status.REFUSED and outcome.refused.key == key
    assert gateway.count("task_approve") == 0 and store.intents == {}
    assert [(r.outcome, r.message) for r in store.audit] == [("refused", key)]


def test_rules_refuse_what_seed_000_forbids(gateway, store):
    import json

    form = json.loads(gateway.instances[LEAVE]["form"])
    form.append({"id": "w_att", "custom_id": "attendance_approval_id", "type": "input", "value": "7400000000000000001"})
    gateway.instances[LEAVE]["form"] = json.dumps(form)  # a linked leave: attendance's rules apply
    gateway.records.append(_record("7400000000000000001", 2, kind="leave"))
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, LEAVE, MANAGER))
    assert outcome.status is Status.REFUSED and outcome.refused.key == "only_revoke"
    assert gateway.count("process") == 0


def test_a_named_type_that_disagrees_is_refused(gateway, store):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.REVOKE, APPROVED, ADMIN, given_type="leave"))
    assert outcome.refused.key == "type_mismatch" and dict(outcome.refused.params) == {"actual": "remedy",
                                                                                        "given": "leave"}


def test_ids_are_validated_before_any_call(gateway, store):
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, "../etc/passwd", MANAGER))
    assert outcome.refused.key == "bad_id" and gateway.calls == []


def test_a_held_lock_means_busy(gateway, store):
    store.acquire_lock(f"approval:{PENDING}", "someone-else", 60, 1_795_136_580)
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert outcome.status is Status.BUSY and gateway.count("process") == 0
    assert [r.outcome for r in store.audit] == ["busy"]


def test_a_stranger_is_refused_before_any_lock_so_cannot_hold_up_the_approver(gateway, store):
    ctx = make_context(gateway, store)
    for _ in range(5):
        assert perform(ctx, ActionRequest(Action.APPROVE, PENDING, STRANGER)).refused.key == "not_found"
    assert store.locks == {}
    assert perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER)).status is Status.DONE


def test_the_lookup_is_used_again_under_the_lock_unless_the_bot_acted_since(gateway, store):
    perform(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, MANAGER))
    before_the_call = gateway.calls[:[c[0] for c in gateway.calls].index("task_approve")]
    assert before_the_call == [("instance_get", PENDING)]  # checked before the lock, used under it


def test_a_click_that_raced_a_finished_action_looks_again_and_sends_nothing(gateway, store):
    ctx = make_context(gateway, store)
    real, raced = gateway.get_instance, []

    def lookup(code, deadline=None):
        data = real(code)
        if not raced:  # between this click's lookup and its lock, another click approves
            raced.append(True)
            perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
        return data

    gateway.get_instance = lookup
    second = perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert second.status is Status.ALREADY and gateway.count("task_approve") == 1


def test_a_lost_answer_whose_write_landed_counts_as_done(gateway, store):
    gateway.process_error = FeishuError(-1, "timeout", kind="timeout", log_id="log-lost")
    gateway.apply_despite_error = True
    outcome = perform(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert outcome.status is Status.DONE and outcome.log_id == "log-lost"
    assert gateway.count("task_approve") == 1  # looked up, never re-sent


def test_a_lost_answer_whose_write_has_not_landed_is_unknown_after_a_few_looks(gateway, store):
    sleeps: list[float] = []
    gateway.process_error = FeishuError(-1, "timeout", kind="timeout")
    ctx = make_context(gateway, store, sleep=sleeps.append)
    outcome = perform(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert outcome.status is Status.UNKNOWN and outcome.error.kind == "timeout"  # never "failed"
    assert gateway.count("task_approve") == 1 and gateway.count("instance_get") == 1 + 3
    assert sleeps == [1.0, 1.0]
    assert [i["state"] for i in store.intents.values()] == ["sending"]  # the reconciler keeps looking


def test_a_refusal_from_feishu_is_a_failure_with_its_log_id(gateway, store):
    gateway.process_error = FeishuError(1390018, "not support handwritten signature", log_id="log-1390018")
    reply = act(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, MANAGER), as_message=True)
    assert reply.toast.kind == "error" and "log-1390018" in reply.toast.text
    assert gateway.count("instance_get") == 1  # a clear refusal is not looked up again


def test_attendance_only_ids_are_for_admins(gateway, store):
    ctx = make_context(gateway, store)
    refused = perform(ctx, ActionRequest(Action.APPROVE, "6737202939523236999", MANAGER))
    assert refused.refused.key == "not_found" and gateway.count("process") == 0  # as for someone else's
    assert perform(ctx, ActionRequest(Action.REVOKE, "6737202939523236999", ADMIN)).refused.key == "type_required"
    done = perform(ctx, ActionRequest(Action.REVOKE, "6737202939523236999", ADMIN, given_type="leave"))
    assert done.status is Status.DONE and ("process", ("6737202939523236999", "leave", 4)) in gateway.calls


def test_done_updates_every_other_copy_of_the_card(gateway, store):
    store.remember_card(PENDING, "om_clicked", 0)
    store.remember_card(PENDING, "om_other", 0)
    reply = act(make_context(gateway, store), ActionRequest(Action.APPROVE, PENDING, MANAGER),
                clicked_message="om_clicked")
    assert reply.toast.kind == "success" and reply.approval_id == PENDING
    assert [c for c in gateway.calls if c[0] == "patch"] == [("patch", "om_other")]


def test_the_reason_is_kept_and_clipped(gateway, store):
    perform(make_context(gateway, store), ActionRequest(Action.REJECT, PENDING, MANAGER, reason="  late " + "x" * 600))
    assert store.audit[0].reason.startswith("late x") and len(store.audit[0].reason) == 500
    assert gateway.calls[1][1][3] == store.audit[0].reason  # sent as the task's comment


def test_an_answer_that_never_came_is_unknown_and_settled_when_feishu_applies_it(gateway, store):
    """35 s of silence: the bot says it is checking, keeps the intent open, and when Feishu applies the action
    late, records it, updates the card and tells the person; nothing is sent twice."""
    from handlers import maintenance

    now = [1_795_136_580.0]
    ctx = make_context(gateway, store, clock=lambda: now[0])
    store.remember_card(PENDING, "om_card", now[0])
    gateway.process_error = FeishuError(-1, "timeout", kind="timeout")
    reply = act(ctx, ActionRequest(Action.APPROVE, PENDING, MANAGER))
    assert reply.toast.kind == "info" and "checking" in reply.toast.text
    assert [r.outcome for r in store.audit] == ["unknown"] and [i["state"] for i in store.intents.values()] == [
        "sending"]
    rechecks = maintenance.Rechecks()
    now[0] += 90
    assert maintenance.reconcile(ctx, rechecks) == 0  # still pending in Feishu
    gateway.instances[PENDING]["status"] = "APPROVED"  # Feishu applies it late
    gateway.instances[PENDING]["task_list"][0]["status"] = "APPROVED"
    now[0] += 10
    assert maintenance.reconcile(ctx, rechecks) == 0  # backed off: not looked at again yet
    now[0] += 60
    assert maintenance.reconcile(ctx, rechecks) == 1
    assert [r.outcome for r in store.audit] == ["unknown", "done"]
    assert [i["state"] for i in store.intents.values()] == ["done"]
    assert ("patch", "om_card") in gateway.calls
    told = [s for s in gateway.sent if s["kind"] == "send" and s["to"] == "ou_manager"]
    assert len(told) == 1 and "applied" in str(told[0]["card"])
    assert gateway.count("task_approve") == 1


def test_an_intent_whose_approval_vanished_is_settled_and_told(gateway, store):
    from handlers import maintenance

    ctx = make_context(gateway, store)
    store.record_intent("gone", "7100000000000000999", "approve", "ou_manager", 0.0, {})
    assert maintenance.reconcile(ctx) == 1
    assert [(r.outcome, r.message) for r in store.audit] == [("abandoned", "reconciled")]
    assert store.intents["gone"]["state"] == "abandoned"
    assert [s["to"] for s in gateway.sent] == ["ou_manager"]
