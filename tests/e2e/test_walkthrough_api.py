"""The walkthrough of issue 15 through the playground's API (the browser one is test_walkthrough_browser.py):
as a manager, a requester and a stranger, reading in zh_cn and in en_us, none of its defects shows — privacy,
lists that stay lists, the reject reason, durations, names not ids, which id commands take, one language per
card, buttons only for who may use them, wording, invalid fault values refused.

Every approval used is a fresh submission through the playground (`submit`), its approver found as the person
the bot wrote to: nothing here depends on the sandbox's sample ids."""

from __future__ import annotations

import html

import pytest

import cards
from tests.cardwalk import read
from tests.e2e.playground_client import card_text
from tests.e2e.walkthrough import (
    LOCALES,
    actions,
    assert_no_raw_ids,
    assert_one_language,
    chat_of,
    name_of,
    other,
    submission,
    user_with_role,
)
from tests.integration.harness import wait_until


@pytest.mark.parametrize("locale", LOCALES)
def test_the_manager_reads_acts_and_rejects_with_a_reason(client, demo, locale):
    employee = user_with_role(client, "Employee")
    code, manager = submission(client, "native_leave", employee)
    card = client.ask(manager["key"], f"/approval {code}")["content"]
    text = read(card, locale)
    assert_one_language(card, locale)
    assert_no_raw_ids(card, locale)
    assert name_of(employee, locale) in text  # the requester by name, in the reader's language
    assert sorted(actions(card)) == ["approve", "reject"]  # no revoke, no details that do nothing
    one_day = {"zh_cn": "1 天", "en_us": "1 day"}[locale]
    assert one_day in text and "00:00 – 00:00" not in text  # a one-day leave reads as one day
    serial = demo.state.snapshot(code)["instance"]["serial_number"]
    assert serial in text and cards.text("label.id_hint", locale, serial=serial).split("（")[0].split("(")[0] in text

    message = client.ask(manager["key"], f"/approval {serial}")  # the serial number people read off the card
    assert "approve" in actions(message["content"])
    bare = client.click(manager["key"], message, "reject", locale=locale)
    assert bare["toast"]["type"] == "warning" and demo.state.action_calls() == []
    assert bare["toast"]["content"] == cards.text("refusal.reason_required", locale)  # in the reader's language
    reason = {"zh_cn": "日期与排班冲突", "en_us": "Clashes with the rota"}[locale]
    done = client.click(manager["key"], message, "reject", form_value={"reason": reason}, locale=locale)
    assert done["toast"]["type"] == "success"
    assert done["toast"]["content"] == cards.text("toast.rejected", locale)
    (call,) = demo.state.action_calls()
    assert call.endpoint == "task_reject" and call.json["comment"] == reason  # the reason reaches Feishu
    after = demo.state.message(message["message_id"])["content"]
    assert reason in read(after, locale) and actions(after) == []


@pytest.mark.parametrize("locale", LOCALES)
def test_a_list_click_keeps_the_list(client, demo, locale):
    employee = user_with_role(client, "Employee")
    first, manager = submission(client, "native_remedy", employee)
    second, _ = submission(client, "native_remedy", employee)
    listed = client.ask(manager["key"], "/pending")
    card = listed["content"]
    assert_one_language(card, locale)
    assert_no_raw_ids(card, locale)
    assert name_of(employee, locale) in read(card, locale)
    if employee["en_name"] != employee["name"]:  # not the task's own title, Feishu's sentence in Chinese
        assert name_of(employee, other(locale)) not in read(card, locale)
    path_values = [(a, v) for a, v in _approve_values(card)]
    assert {first, second} <= {v for _, v in path_values}
    answer = client.click(manager["key"], listed, "approve", locale=locale)
    assert answer["toast"]["type"] == "success"
    now = demo.state.message(listed["message_id"])["content"]
    title = cards.text("title.pending", locale)
    assert title in read(now, locale)  # still the list
    left = {v for _, v in _approve_values(now)}
    assert len(left) == len(path_values) - 1  # that item done, the rest intact


def _approve_values(card) -> list[tuple[str, str]]:
    from tests.e2e.playground_client import button_paths

    return [("approve", b["behaviors"][0]["value"]["approval_id"]) for _, b in button_paths(card)
            if b.get("behaviors") and b["behaviors"][0].get("type") == "callback"
            and b["behaviors"][0]["value"].get("action") == "approve"]


@pytest.mark.parametrize("locale", LOCALES)
def test_the_requester_sees_their_request_without_buttons_for_others(client, demo, locale):
    employee = user_with_role(client, "Employee")
    code, _ = submission(client, "native_leave", employee)
    card = client.ask(employee["key"], f"/approval {code}")["content"]
    assert actions(card) == []  # not theirs to approve; native requests are withdrawn in Feishu
    assert_one_language(card, locale)
    assert_no_raw_ids(card, locale)
    assert cards.text("button.reject", locale) not in read(card, locale)


def test_a_stranger_learns_nothing_whether_the_approval_exists_or_not(client, demo):
    employee = user_with_role(client, "Employee")
    stranger = user_with_role(client, "Stranger")
    code, manager = submission(client, "native_leave", employee)
    missing = "00000000-0000-4000-8000-000000000000"
    for command in ("/approval {}", "/approve {}", "/reject {} no", "/revoke {}"):
        real = client.ask(stranger["key"], command.format(code))
        fake = client.ask(stranger["key"], command.format(missing))
        assert actions(real["content"]) == [] == actions(fake["content"])
        for locale in LOCALES:
            said = read(real["content"], locale).replace(code, "<id>")
            assert said == read(fake["content"], locale).replace(missing, "<id>"), command
            assert name_of(employee, locale) not in said and "family matters" not in said
    assert demo.state.action_calls() == []
    seen = [m for m in client.messages(chat_of(stranger))["messages"] if m["from_bot"]]
    client.ask(manager["key"], f"/approve {code}")
    assert wait_until(lambda: demo.state.snapshot(code)["instance"]["status"] == "APPROVED")
    assert all(demo.state.message(m["message_id"])["content"] == m["content"] for m in seen)  # never updated


def test_invalid_fault_values_are_refused_with_what_is_wrong(client):
    for body in ({"endpoint": "process", "http_status": 99999}, {"endpoint": "process", "latency_s": "soon"},
                 {"endpoint": "process", "code": 1220600, "times": 0}, {"endpoint": "nowhere", "code": 1}):
        status, answer = client.post("faults", body)
        assert status == 400 and answer["error"], body
    assert client.get("faults")[1]["faults"] == []


def test_card_texts_say_which_id_and_never_a_raw_open_id(client, demo):
    employee = user_with_role(client, "Employee")
    code, manager = submission(client, "native_leave", employee)
    history = client.ask(manager["key"], f"/history {code}")["content"]
    for locale in LOCALES:
        assert cards.text("label.approval_id", locale, id=code) in read(history, locale).replace("\\-", "-")
    assert "ou_" not in card_text(history).replace(manager["open_id"], "")


@pytest.fixture
def english_bot(monkeypatch):
    """BOT_LOCALE=en_us for the demo started after it (the default text, where a client has no language)."""
    monkeypatch.setenv("BOT_LOCALE", "en_us")


def test_with_bot_locale_en_us_the_list_reads_english_where_a_client_has_no_language(english_bot, client, demo):
    assert client.get("world")[1]["locale"] == "en_us"
    employee = user_with_role(client, "Employee")
    code, manager = submission(client, "native_remedy", employee)
    listed = client.ask(manager["key"], "/pending")
    default = read({"default": _without_i18n(listed["content"])}, "en_us")
    assert cards.text("title.pending", "en_us") in default and employee["en_name"] in default
    assert employee["name"] not in default  # no Chinese name, no Feishu task title, in the default text
    answer = client.click(manager["key"], listed, "approve")
    assert answer["toast"]["content"] == cards.text("toast.approved", "en_us")


def _without_i18n(node):
    """The card as a client with no language of its own reads it: `content` only."""
    if isinstance(node, dict):
        return {k: _without_i18n(v) for k, v in node.items() if k not in ("i18n_content", "i18n_text_tag_list")}
    if isinstance(node, list):
        return [_without_i18n(v) for v in node]
    return node


@pytest.mark.parametrize("locale", LOCALES)
def test_a_typed_reject_needs_its_reason_and_an_empty_list_says_so(client, demo, locale):
    employee = user_with_role(client, "Employee")
    stranger = user_with_role(client, "Stranger")
    code, manager = submission(client, "native_leave", employee)
    bare = client.ask(manager["key"], f"/reject {code}")
    said = html.unescape(read(bare["content"], locale))
    assert cards.text("refusal.reason_required_command", locale) in said
    assert demo.state.action_calls() == [] and demo.state.snapshot(code)["instance"]["status"] == "PENDING"
    empty = read(client.ask(stranger["key"], "/pending")["content"], locale)
    assert cards.text("pending.empty", locale) in empty
    assert not any(bad in empty for bad in ("of 0", "/ 0", "共 0", "0 in all"))


@pytest.mark.parametrize("locale", LOCALES)
def test_a_group_card_says_who_may_act_by_name(client, demo, locale):
    employee = user_with_role(client, "Employee")
    code, manager = submission(client, "native_leave", employee)
    card = client.ask(manager["key"], f"/approval {code}", chat="group")["content"]
    waiting = cards.text("label.waiting_for", locale, names=name_of(manager, locale))
    assert waiting in read(card, locale)
    assert_no_raw_ids(card, locale)
