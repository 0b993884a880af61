"""Scenarios through the one pipeline, in-process: typed inbound values in, answers and effects out (no HTTP,
no SDK, no database). What is about HTTP itself is tested in tests/integration and tests/security."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import cards
from core.inbound import ApprovalEvent, OtherEvent, Unreadable
from handlers.pipeline import dispatch
from handlers.registry import build_registry
from tests import cardwalk, samples
from tests.fakes import FakeGateway, FakeStore, click, make_context, message

PENDING = "7100000000000000001"
APPROVE = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}


def soon() -> float:
    return time.monotonic() + 2.5


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(instances={PENDING: samples.remedy_pending()}, names={"ou_manager": "Manager Wang"})


def replies(gateway: FakeGateway) -> list[str]:
    return [cardwalk.markdown(s["card"]) for s in gateway.sent if s["kind"] == "reply"]


def test_a_command_is_answered_once_even_when_delivered_twice(gateway):
    ctx = make_context(gateway)
    first = message("manager", "/help")
    assert dispatch(ctx, first, soon()).outcome == "handled"
    again = message("manager", "/help", message_id=first.message_id)  # same message, another event id
    assert dispatch(ctx, again, soon()).outcome == "duplicate"
    assert len(replies(gateway)) == 1 and "/approve" in replies(gateway)[0]


@pytest.mark.parametrize("inbound", [
    message("manager", "/help", chat="group"),  # a group message that does not mention the bot
    message("other_bot", "/help", sender_type="app"),  # never answer apps (no loops)
])
def test_messages_the_bot_must_not_answer_cost_no_store_write(gateway, inbound):
    store = FakeStore()
    assert dispatch(make_context(gateway, store), inbound, soon()).outcome == "silent"
    assert store.writes == 0 and gateway.sent == []


def test_a_group_mention_is_answered(gateway):
    assert dispatch(make_context(gateway), message("manager", "/pending", chat="group", mention_bot=True),
                    soon()).outcome == "handled"
    assert len(replies(gateway)) == 1


def test_unknown_commands_and_wrong_argument_counts_get_help(gateway):
    ctx = make_context(gateway)
    dispatch(ctx, message("manager", "/frobnicate 1"), soon())
    dispatch(ctx, message("manager", "/approval"), soon())
    unknown, usage = replies(gateway)
    assert "frobnicate" in unknown and "/approve" in unknown
    assert usage.startswith("/approval &lt;id&gt;")  # the usage first, then the list


def test_event_types_the_bot_does_not_read_are_acknowledged(gateway):
    store = FakeStore()
    answer = dispatch(make_context(gateway, store), OtherEvent("ev_x", "contact.user.created_v3"), soon())
    assert (answer.outcome, answer.body, answer.callback, store.writes) == ("ignored", {}, False, 0)


def test_an_unreadable_callback_gets_a_toast(gateway):
    answer = dispatch(make_context(gateway), Unreadable("ev_u", "card.action.trigger", callback=True), soon())
    assert answer.callback and answer.outcome == "unreadable" and answer.body["toast"]["type"] == "error"


def test_a_click_approves_and_answers_with_toast_and_card(gateway):
    ctx = make_context(gateway)
    answer = dispatch(ctx, click("manager", APPROVE), soon())
    assert answer.outcome == "handled" and answer.body["toast"] == {
        "type": "success", "content": "Approved", "i18n": {"zh_cn": "已通过", "en_us": "Approved"}}
    assert "Manager Wang" in cardwalk.markdown(answer.body["card"]["data"])
    assert gateway.count("task_approve") == 1


def test_a_redelivered_click_acts_once(gateway):
    ctx = make_context(gateway)
    first = click("manager", APPROVE)
    dispatch(ctx, first, soon())
    again = dispatch(ctx, first, soon())
    assert again.outcome == "duplicate" and again.callback and gateway.count("task_approve") == 1


def test_a_click_whose_claim_is_held_is_told_to_wait(gateway):
    store = FakeStore()
    held = click("manager", APPROVE)
    store.claim(f"evt:{held.event_id}", 10.0, 1e12)
    answer = dispatch(make_context(gateway, store), held, soon())
    assert answer.outcome == "busy" and answer.body["toast"]["type"] == "info" and gateway.count("task_approve") == 0


def test_unknown_buttons_and_old_cards_are_not_acted_on(gateway):
    ctx = make_context(gateway)
    unknown = dispatch(ctx, click("manager", {"action": "frobnicate"}), soon())
    assert unknown.body["toast"]["content"] == "This button is not known (any more)."
    assert unknown.body["toast"]["i18n"]["zh_cn"] != unknown.body["toast"]["i18n"]["en_us"]  # each reader's own
    stale = dispatch(ctx, click("manager", {**APPROVE, "v": 0}), soon())
    assert stale.body["toast"]["type"] == "warning" and "card" in stale.body
    assert gateway.count("task_approve") == 0


def test_a_slow_action_answers_in_time_and_updates_the_card_afterwards(gateway):
    release = threading.Event()
    gateway.on_process = lambda: release.wait(5)
    ctx = make_context(gateway, pool=ThreadPoolExecutor(4))
    started = time.monotonic()
    answer = dispatch(ctx, click("manager", APPROVE, token="c-late"), time.monotonic() + 0.2)
    assert time.monotonic() - started < 1.0
    assert answer.outcome == "handed_off" and "Processing" in answer.body["toast"]["content"]
    release.set()
    answer.after_response()  # the answer is out: the delayed update may go now
    deadline = time.monotonic() + 5
    while ("card_update", "c-late") not in gateway.calls and time.monotonic() < deadline:
        time.sleep(0.01)
    assert ("card_update", "c-late") in gateway.calls


def test_a_crash_is_a_toast_for_a_click_and_frees_the_claim_for_a_retry(gateway):
    from handlers import registry
    from handlers.registry import button

    table = registry()
    crashing = build_registry(table.events.values(), table.commands.values(),
                              [button("approve", lambda *_: 1 / 0, label="button.approve")])
    store = FakeStore()
    boom = click("manager", APPROVE)
    answer = dispatch(make_context(gateway, store, routes=crashing), boom, soon())
    assert answer.outcome == "error" and answer.body["toast"]["type"] == "error"
    assert "ZeroDivision" not in answer.body["toast"]["content"]  # a reference for support, never the exception
    assert store.claim(f"evt:{boom.event_id}", 10.0, 1e12).value == "new"  # released: a retry is handled


def test_an_approval_changed_elsewhere_updates_every_card(gateway):
    store = FakeStore()
    store.remember_card(PENDING, "om_1", 0)
    store.remember_card(PENDING, "om_2", 0)
    gateway.instances[PENDING]["status"] = "APPROVED"
    answer = dispatch(make_context(gateway, store), ApprovalEvent("ev_a", "approval_instance", PENDING, "APPROVED"),
                      soon())
    assert answer.outcome == "handled"
    assert [c for c in gateway.calls if c[0] == "patch"] == [("patch", "om_1"), ("patch", "om_2")]


def test_settled_is_told_for_silence_and_for_work(gateway):
    seen: list[tuple[str, str]] = []
    ctx = make_context(gateway, on_settled=lambda e, o: seen.append((e, o)))
    quiet, loud = message("manager", "/help", chat="group"), message("manager", "/help")
    dispatch(ctx, quiet, soon())
    dispatch(ctx, loud, soon())
    assert seen == [(quiet.event_id, "silent"), (loud.event_id, "handled")]


@pytest.mark.parametrize("command", ["approve", "reject", "revoke", "approval", "history"])
def test_a_stranger_learns_nothing_and_gets_the_answer_a_missing_id_gets(gateway, command):
    store = FakeStore()
    ctx = make_context(gateway, store)
    dispatch(ctx, message("stranger", f"/{command} {PENDING} because"[: len(command) + 21]), soon())
    dispatch(ctx, message("stranger", f"/{command} 7199999999999999999 because"[: len(command) + 21]), soon())
    existing, missing = (cardwalk.markdown(s["card"]) for s in gateway.sent)
    assert existing.replace(PENDING, "<id>") == missing.replace("7199999999999999999", "<id>")
    assert "Employee" not in existing and "补卡" not in existing and "Forgot" not in existing
    assert store.cards == {}  # the stranger's chat is never kept up to date with the approval
    assert gateway.count("task_approve") == 0
