"""A store that cannot be written, at each step of a delivery: events get a fixed 503 (Feishu retries), clicks a
toast that nothing was recorded, no Feishu write goes out without its intent, and an action Feishu applied is
reported done even when its audit cannot be written. No traceback anywhere."""

from __future__ import annotations

import logging
import threading
import time

import pytest

import cards
from bot.delivery import status_for
from handlers import digest
from handlers.maintenance import Maintenance
from handlers.pipeline import dispatch
from tests import samples
from tests.fakes import FakeGateway, click, make_context, message
from tests.faults import BrokenStore

PENDING = "7100000000000000001"
APPROVE = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
NOT_RECORDED = cards.text("toast.store_unavailable", "en_us")


def soon() -> float:
    return time.monotonic() + 2.5


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(instances={PENDING: samples.remedy_pending()}, names={"ou_manager": "Manager Wang"})


@pytest.fixture(autouse=True)
def no_tracebacks(caplog):
    caplog.set_level(logging.INFO)
    yield
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []


def test_the_new_text_exists_in_both_languages():
    assert NOT_RECORDED != cards.text("toast.store_unavailable", "zh_cn")
    assert "record" in NOT_RECORDED


@pytest.mark.parametrize("broken", ["claim", "acquire_lock", "last_success", "record_intent"])
def test_a_click_the_store_cannot_record_gets_a_toast_and_no_feishu_write(gateway, broken):
    store = BrokenStore().break_(broken)
    answer = dispatch(make_context(gateway, store), click("manager", APPROVE), soon())
    assert (answer.outcome, status_for(answer.outcome, answer.callback)) == ("unavailable", 200)
    toast = answer.body["toast"]
    assert (toast["type"], toast["content"], toast["i18n"]["en_us"]) == ("error", NOT_RECORDED, NOT_RECORDED)
    assert gateway.count("task_approve") == 0 and store.intents == {}
    assert store.locks == {}  # nobody is kept waiting behind a lock the failed click took


@pytest.mark.parametrize("broken", ["claim", "record_intent"])
def test_an_event_the_store_cannot_record_is_a_fixed_503(gateway, broken):
    store = BrokenStore().break_(broken)
    answer = dispatch(make_context(gateway, store), message("manager", f"/approve {PENDING}"), soon())
    assert (answer.outcome, answer.body, status_for(answer.outcome, answer.callback)) == ("unavailable", {}, 503)
    assert gateway.count("task_approve") == 0 and gateway.sent == []
    assert store.claims == {}  # nothing claimed for good: Feishu's retry runs it


def test_an_action_feishu_applied_is_done_even_when_nothing_after_it_can_be_written(gateway, caplog):
    store = BrokenStore()
    gateway.on_process = lambda: store.break_("append_audit", "release_lock", "cards_for", "finish")
    answer = dispatch(make_context(gateway, store), click("manager", APPROVE), soon())
    assert answer.outcome == "handled" and (answer.body["toast"]["type"], answer.body["toast"]["content"]) == (
        "success", "Approved")
    assert gateway.count("task_approve") == 1
    assert [i["state"] for i in store.intents.values()] == ["sending"]  # the reconciler settles it from Feishu
    assert {"append_audit", "release_lock", "cards_for", "finish"} <= set(store.failures)
    assert any("done but not audited" in r.getMessage() for r in caplog.records)


def test_a_command_done_while_the_store_breaks_still_tells_the_person(gateway):
    store = BrokenStore()
    gateway.on_process = lambda: store.break_("append_audit", "release_lock", "remember_card", "finish")
    answer = dispatch(make_context(gateway, store), message("manager", f"/approve {PENDING}"), soon())
    assert answer.outcome == "handled" and status_for(answer.outcome, False) == 200
    assert [s["kind"] for s in gateway.sent] == ["reply"] and "Approved" in str(gateway.sent[0]["card"])


def test_a_failing_release_does_not_hide_what_went_wrong(gateway):
    store = BrokenStore().break_("record_intent", "release_lock", "release")
    answer = dispatch(make_context(gateway, store), message("manager", f"/approve {PENDING}"), soon())
    assert answer.outcome == "unavailable" and {"release_lock", "release"} <= set(store.failures)


def test_the_maintenance_round_logs_one_line_without_a_traceback(gateway, caplog):
    store = BrokenStore().break_("take_lease")
    rounds = Maintenance(make_context(gateway, store))
    rounds.run_round()
    rounds.run_round()
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.maintenance"]
    assert lines == ["maintenance round skipped: store unavailable: database file missing"] * 2


def test_the_digest_says_in_one_line_that_it_could_not_be_sent(gateway, caplog):
    store = BrokenStore().break_("approvers")
    ctx = make_context(gateway, store, digest_time="00:00")
    assert digest.maybe_send(ctx) == 0
    lines = [r.getMessage() for r in caplog.records if r.name == "handlers.digest"]
    assert len(lines) == 1 and lines[0].endswith("not sent: store unavailable: database file missing")



def test_a_click_answered_processing_whose_store_then_fails_logs_one_line_and_sends_nothing(gateway, caplog):
    from concurrent.futures import ThreadPoolExecutor

    store, go_on = BrokenStore().break_("record_intent"), threading.Event()
    original = store.acquire_lock
    store.acquire_lock = lambda *args: go_on.wait(5) and original(*args)  # the action outlives the answer
    ctx = make_context(gateway, store, pool=ThreadPoolExecutor(2))
    answer = dispatch(ctx, click("manager", APPROVE), time.monotonic() + 0.1)
    assert answer.outcome == "handed_off"
    go_on.set()
    answer.after_response()
    expected = "card action not recorded after the answer: store unavailable: database file missing"
    deadline = time.monotonic() + 5
    while expected not in caplog.text and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [r.getMessage() for r in caplog.records if r.name == "handlers.pipeline"] == [expected]
    assert gateway.count("task_approve") == 0 and gateway.count("card_update") == 0 and gateway.count("patch") == 0
