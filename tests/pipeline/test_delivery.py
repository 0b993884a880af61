"""Telling the person, when Feishu fails: a reply is retried with back-off, then sent as a new message in the
chat; a message is marked handled only once someone was told, else its claim is released for Feishu's
re-delivery (which does not act twice); a late card update is retried, then falls back to PATCH. And only the
cards the bot itself sent are remembered for later updates."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import cards
from bot.delivery import status_for
from core.errors import FeishuError
from handlers.pipeline import REPLY_PAUSES_S, dispatch
from tests import cardwalk, samples
from tests.fakes import FakeStore, click, make_context, message
from tests.faults import FlakyGateway, down

PENDING = "7100000000000000001"
APPROVE = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
RECALLED = FeishuError(230011, "The message is recalled.", log_id="log-recalled")


def soon() -> float:
    return time.monotonic() + 2.5


@pytest.fixture
def gateway() -> FlakyGateway:
    return FlakyGateway(instances={PENDING: samples.remedy_pending()}, names={"ou_manager": "Manager Wang"})


@pytest.fixture
def pauses() -> list[float]:
    return []


def context(gateway, store=None, pauses=None, **kwargs):
    return make_context(gateway, store, sleep=(pauses.append if pauses is not None else lambda _s: None), **kwargs)


def told(gateway) -> list[tuple[str, str, str]]:
    return [(s["kind"], s["to"], cardwalk.markdown(s["card"])) for s in gateway.sent]


def test_a_reply_feishu_failed_twice_arrives_on_the_third_try(gateway, pauses):
    gateway.failing["reply"] = [down(), down("timeout")]
    store = FakeStore()
    asked = message("manager", f"/approve {PENDING}")
    answer = dispatch(context(gateway, store, pauses), asked, soon())
    assert answer.outcome == "handled" and pauses == list(REPLY_PAUSES_S[:2])
    [(kind, to, text)] = told(gateway)
    assert (kind, to) == ("reply", asked.message_id) and "Manager Wang" in text
    assert store.claims[f"msg:{asked.message_id}"][0] == "done"
    assert gateway.count("task_approve") == 1


def test_a_reply_that_cannot_be_sent_comes_as_a_new_message_in_the_chat(gateway, pauses):
    gateway.failing["reply"] = [down()] * (len(REPLY_PAUSES_S) + 1)
    asked = message("manager", f"/approve {PENDING}")
    answer = dispatch(context(gateway, None, pauses), asked, soon())
    assert answer.outcome == "handled" and sum(pauses) < 7
    [(kind, to, text)] = told(gateway)
    assert (kind, to) == ("send", asked.chat_id) and "Manager Wang" in text


def test_no_retry_outlasts_the_claim_a_slow_handler_used_up(gateway, pauses, monkeypatch):
    import handlers.pipeline

    monkeypatch.setattr(handlers.pipeline, "TELL_WINDOW_S", 0.0)  # as if the handler had taken the whole window
    gateway.failing["reply"] = [down()]
    assert dispatch(context(gateway, None, pauses), message("manager", "/help"), soon()).outcome == "handled"
    assert pauses == [] and [k for k, _, _ in told(gateway)] == ["send"]


def test_a_refused_reply_is_not_retried_but_sent_anew_at_once(gateway, pauses):
    gateway.failing["reply"] = [RECALLED]
    asked = message("manager", "/help")
    assert dispatch(context(gateway, None, pauses), asked, soon()).outcome == "handled"
    assert pauses == [] and [k for k, _, _ in told(gateway)] == ["send"]


def test_nobody_told_means_not_handled_and_the_redelivery_says_it_is_done_without_acting_again(gateway, pauses):
    store = FakeStore()
    gateway.failing["reply"] = [down()] * 9
    gateway.failing["send"] = [down()] * 9
    asked = message("manager", f"/approve {PENDING}")
    ctx = context(gateway, store, pauses)
    answer = dispatch(ctx, asked, soon())
    assert answer.outcome == "error" and status_for(answer.outcome, answer.callback) == 503  # Feishu re-delivers
    assert f"msg:{asked.message_id}" not in store.claims and gateway.sent == []
    gateway.failing.clear()  # Feishu is back: the re-delivery (same message, another event id)
    again = message("manager", f"/approve {PENDING}", message_id=asked.message_id)
    assert dispatch(ctx, again, soon()).outcome == "handled"
    [(kind, _, text)] = told(gateway)
    assert kind == "reply" and text.startswith("Approved by Manager Wang")
    assert gateway.count("task_approve") == 1
    assert [(r.outcome, r.message) for r in store.audit] == [("done", ""), ("refused", "already_done")]
    assert store.claims[f"msg:{asked.message_id}"][0] == "done"


def slow_click(gateway, pauses, token="c-late"):
    """A click whose action outlives the answer budget; returns once the action is done and the answer out."""
    release = threading.Event()
    gateway.on_process = lambda: release.wait(5)
    ctx = context(gateway, None, pauses, pool=ThreadPoolExecutor(4))
    answer = dispatch(ctx, click("manager", APPROVE, token=token, message_id="om_card"), time.monotonic() + 0.2)
    assert answer.outcome == "handed_off"
    release.set()
    answer.after_response()


def wait_for(predicate) -> bool:
    deadline = time.monotonic() + 5
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.01)
    return predicate()


def test_a_late_card_update_that_fails_once_is_sent_again(gateway, pauses):
    gateway.failing["card_update"] = [down()]
    slow_click(gateway, pauses)
    assert wait_for(lambda: ("card_update", "c-late") in gateway.calls)
    assert gateway.count("card_update_failed") == 1 and gateway.count("patch") == 0 and len(pauses) == 1


def test_a_late_card_update_the_token_cannot_make_falls_back_to_patch(gateway, pauses):
    gateway.failing["card_update"] = [down(), down()]  # a token updates twice at most: no third try
    gateway.failing["patch"] = [down()]
    slow_click(gateway, pauses)
    assert wait_for(lambda: ("patch", "om_card") in gateway.calls)
    assert gateway.count("card_update_failed") == 2 and gateway.count("card_update") == 0
    assert gateway.count("patch_failed") == 1


def test_only_cards_the_bot_sent_are_remembered(gateway):
    store = FakeStore()
    ctx = context(gateway, store)
    dispatch(ctx, click("manager", APPROVE, message_id="om_somebody_elses"), soon())
    assert gateway.count("task_approve") == 1 and store.cards == {}
    shown = message("manager", f"/approval {PENDING}")
    dispatch(ctx, shown, soon())
    assert store.cards == {PENDING: [gateway.sent[-1]["message_id"]]}
