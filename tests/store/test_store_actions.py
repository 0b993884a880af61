"""The click's transactions (bot/store.py): claim with the clicked copy; lock, last success and intent at the
start of an action; audit, intent, lock and claim at its end. Each is all or nothing, and counts one round trip."""

from __future__ import annotations

import threading

from bot.store import Store
from core.records import AuditRecord, ClaimResult, Intent

T = 1_700_000_000.0


def _intent(approval_id: str = "a1") -> Intent:
    return Intent(f"i-{threading.get_ident()}-{approval_id}", approval_id, "approve", "ou_m", {"task_id": "t1"})


def test_a_click_is_claimed_with_its_copys_view_in_one_round_trip(store: Store):
    store.remember_copy("om_1", {"kind": "approval", "recipient": "ou_m", "shared": False}, T)
    before = store.round_trips
    assert store.claim_click("evt:1", 10, T, "om_1") == (ClaimResult.NEW, {"kind": "approval", "recipient": "ou_m",
                                                                            "shared": False})
    assert store.round_trips == before + 1
    assert store.claim_click("evt:1", 10, T + 1, "om_unknown") == (ClaimResult.BUSY, None)
    store.finish("evt:1", T + 2)
    assert store.claim_click("evt:1", 10, T + 3, "")[0] is ClaimResult.DONE


def test_an_action_begins_with_the_lock_and_its_intent_and_ends_with_both_settled(store: Store):
    intent = _intent()
    before = store.round_trips
    start = store.begin_action("approval:a1", "me", 60, T, intent, fresh_since=T - 2)
    assert store.round_trips == before + 1
    assert (start.locked, start.previous, start.intent_written) == (True, None, True)
    assert [i["intent_id"] for i in store.open_intents(T)] == [intent.intent_id]
    assert not store.acquire_lock("approval:a1", "other", 60, T + 1)
    store.claim("evt:9", 10, T)
    done = AuditRecord("a1", "approve", "ou_m", "done", at=T + 1)
    before = store.round_trips
    store.end_action(done, settles=intent.intent_id, lock="approval:a1", owner="me", claim="evt:9")
    assert store.round_trips == before + 1
    assert store.open_intents(T + 10) == [] and store.last_success("a1").outcome == "done"
    assert store.acquire_lock("approval:a1", "other", 60, T + 2)  # released
    assert store.claim("evt:9", 10, T + 3) is ClaimResult.DONE


def test_a_held_lock_writes_no_intent(store: Store):
    store.acquire_lock("approval:a1", "other", 60, T)
    start = store.begin_action("approval:a1", "me", 60, T + 1, _intent(), fresh_since=T)
    assert not start.locked and store.open_intents(T + 10) == []


def test_someone_who_acted_after_the_lookup_is_reported_and_no_intent_written(store: Store):
    store.append_audit(AuditRecord("a1", "approve", "ou_x", "done", at=T + 5))
    start = store.begin_action("approval:a1", "me", 60, T + 6, _intent(), fresh_since=T + 4)
    assert start.locked and not start.intent_written and start.previous.operator == "ou_x"
    assert store.open_intents(T + 10) == []
    older = store.begin_action("approval:a1", "me", 60, T + 7, _intent("a1"), fresh_since=T + 6)
    assert older.intent_written  # an earlier success is what the lookup already saw


def test_an_end_whose_lock_was_taken_over_leaves_the_new_holder_alone(store: Store):
    store.begin_action("approval:a1", "me", 1, T, _intent(), fresh_since=T)
    assert store.acquire_lock("approval:a1", "next", 60, T + 5)  # mine expired and was taken over
    store.end_action(AuditRecord("a1", "approve", "ou_m", "done", at=T + 6), lock="approval:a1", owner="me")
    assert not store.acquire_lock("approval:a1", "third", 60, T + 7)
