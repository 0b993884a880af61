"""The playground's JSON endpoints (no browser): the page's whole contract with the sandbox, fast."""

from __future__ import annotations

import json
import re
import time

import pytest

import cards
from sandbox import data
from sandbox.app import create_sandbox_app
from sandbox.demo import attach_bot
from sandbox.playground import mask
from sandbox.server import ServerThread
from sandbox.state import SandboxState
from tests.e2e.playground_client import action_of, button_path, button_paths, card_text
from tests.integration.harness import wait_until

PENDING = data.INSTANCES["remedy_pending"]
INSTANCES = data.INSTANCES
LOCALE = "zh_cn"  # the demo's default (BOT_LOCALE is cleared for tests)
HTML_SINKS = re.compile(r"\.(innerHTML|outerHTML)\s*=|insertAdjacentHTML|document\.write|\beval\(|new Function")
TOKEN_LIKE = re.compile(r"\b(t-g|a-g|c-)[0-9a-f]{12,}")


def test_page_and_assets_are_served_from_the_sandbox(client):
    for path in ("/", "/playground"):
        page = client.http.get(path)
        assert page.status_code == 200 and page.mimetype == "text/html"
        html = page.get_data(as_text=True)
        assert "/_playground/static/card.js" in html and "/_playground/static/playground.js" in html
        assert not re.search(r"""(src|href)=["'](https?:)?//""", html), "the machine is offline: no CDN"
        assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    for name, mimetype in (("card.js", "text/javascript"), ("playground.js", "text/javascript"),
                           ("playground.css", "text/css")):
        asset = client.http.get(f"/_playground/static/{name}")
        assert asset.status_code == 200 and asset.mimetype == mimetype
        assert not HTML_SINKS.search(asset.get_data(as_text=True)), f"{name} builds DOM nodes, never HTML"


def test_world_names_the_sample_users_chats_and_endpoints(client, demo):
    status, world = client.get("world")
    assert status == 200
    assert [u["key"] for u in world["users"]] == ["manager", "manager2", "admin", "employee", "stranger"]
    assert world["group"]["chat_id"] == data.GROUP_CHAT
    assert world["samples"]["remedy_pending"] == PENDING
    # one of each kind: native (two steps, no attendance type), linked, and attendance records alone
    samples = world["samples"]
    assert samples["purchase_two_step"] == INSTANCES["purchase_two_step"]
    assert (samples["linked_remedy"], samples["linked_leave"]) == (INSTANCES["linked_remedy"],
                                                                   INSTANCES["linked_leave"])
    assert (samples["record_remedy_pending"], samples["record_leave_approved"]) == (
        data.RECORD_IDS["remedy_pending"], data.RECORD_IDS["leave_approved"])
    assert set(samples.values()) <= set(demo.state.instances) | set(demo.state.attendance)
    assert "process" in world["endpoints"] and world["attached"] is True
    assert world["locale"] == LOCALE


def test_attach_bot_points_notifications_at_the_bot(demo):
    target = demo.state.event_target
    assert target is not None and target.url == demo.bot.url
    assert target.encrypt_key == demo.env["FEISHU_ENCRYPT_KEY"]
    assert demo.playground_url == f"{demo.sandbox.url}/playground"


def test_a_command_shows_a_card_and_a_click_updates_it_in_place(client, demo):
    card = client.ask("manager", f"/approval {PENDING}")
    assert card["msg_type"] == "interactive" and card["version"] == 1
    assert card["content"]["header"]["template"] == "orange"
    assert card["parent_preview"] == f"/approval {PENDING}"

    code = demo.state.instances[PENDING]["approval_code"]
    deadline = time.monotonic() + 10  # the bot subscribes its approval codes on its first upkeep round
    while code not in demo.state.subscriptions and time.monotonic() < deadline:
        time.sleep(0.05)
    answer = client.click("manager", card, "approve")
    assert answer["status"] == 200 and not answer["late"]
    assert answer["toast"] == {"type": "success", "content": cards.text("toast.approved", LOCALE)}

    updated = client.wait_version(card, 2)
    assert updated["message_id"] == card["message_id"]
    assert updated["content"]["header"]["template"] == "green"
    assert "王经理" in card_text(updated["content"])
    assert [(c.endpoint, c.json["instance_code"], c.json["user_id"]) for c in demo.state.action_calls()] == [
        ("task_approve", PENDING, "ou_manager")]
    assert demo.state.wait_notifications(1), "the sandbox tells the bot the instance changed"


def test_reject_sends_only_the_forms_fields(client, demo):
    approval_id = data.INSTANCES["remedy_pending_3"]
    card = client.ask("manager", f"/approval {approval_id}")
    answer = client.click("manager", card, "reject",
                          form_value={"reason": "Badge log shows no entry", "injected": "ignored"})
    assert answer["toast"]["type"] == "success"
    assert demo.state.snapshot(approval_id)["instance"]["status"] == "REJECTED"
    assert "Badge log shows no entry" in card_text(client.wait_version(card, 2)["content"])
    store = demo.bot_app.extensions["approval_bot"].ctx.store
    assert [(r.action, r.reason) for r in store.history(approval_id)] == [("reject", "Badge log shows no entry")]


def test_a_click_uses_the_value_of_the_card_as_shown(client, demo):
    card = client.ask("manager", f"/approval {PENDING}")
    client.click("manager", card, "approve")
    # the page still showed version 1: the click carries version 1's approve value; the bot answers "already done"
    again = client.click("manager", card, "approve")
    assert again["status"] == 200 and "王经理" in again["toast"]["content"]
    assert len(demo.state.action_calls()) == 1


def test_bad_clicks_are_refused_without_reaching_the_bot(client, demo):
    card = client.ask("manager", f"/approval {PENDING}")
    approve = button_path(card["content"], "approve")
    base = {"user": "manager", "message_id": card["message_id"], "version": 1}
    user_message = card["parent_id"]
    cases = [
        ({**base, "message_id": "om_nope", "path": approve}, 404),
        ({**base, "message_id": user_message, "path": approve}, 404),
        ({**base, "user": "ou_outsider", "path": approve}, 400),
        ({**base, "path": ["body", "elements", 0]}, 400),  # not a button
        ({**base, "path": ["body", "elements", 999]}, 400),
        ({**base, "path": "body.elements.0"}, 400),
        ({**base, "path": []}, 400),
        ({**base, "path": ["body", "elements", True]}, 400),
    ]
    links = [p for p, b in button_paths(card["content"]) if not any(x.get("type") == "callback"
                                                                     for x in b.get("behaviors") or ())]
    if links:
        cases.append(({**base, "path": links[0]}, 400))  # "Open in Feishu" opens a link; it has no callback
    before = len(demo.state.calls)
    for body, expected in cases:
        status, answer = client.post("click", body)
        assert status == expected, (body, answer)
        assert "error" in answer
    assert len(demo.state.calls) == before


def test_bad_messages_are_refused(client):
    for body in ({"user": "nobody", "text": "/help"}, {"user": "manager", "text": "  "},
                 {"user": "manager", "text": "x" * 5000}, {"user": "manager", "chat": "oc_p2p_admin", "text": "hi"}):
        status, answer = client.post("send", body)
        assert status == 400, body
    status, _ = client.get("messages?chat=oc_nope")
    assert status == 404


def test_group_messages_mention_the_bot(client):
    reply = client.ask("admin", "/help", chat="group")
    assert reply["chat_id"] == data.GROUP_CHAT
    messages = client.messages(data.GROUP_CHAT)["messages"]
    asked = next(m for m in messages if m["message_id"] == reply["parent_id"])
    assert asked["content"]["text"].startswith("@_user_1 ")
    assert asked["mentions"] == {"@_user_1": data.BOT_NAME}
    assert asked["sender"]["name"] == "赵管理员"


def test_the_stranger_is_refused(client, demo):
    reply = client.ask("stranger", f"/approval {data.INSTANCES['remedy_pending_2']}")
    not_found = cards.text("refusal.not_found", LOCALE, id=data.INSTANCES["remedy_pending_2"])
    assert not_found in card_text(reply["content"])  # the same answer as for an id that does not exist
    assert button_paths(reply["content"]) == []
    assert demo.state.action_calls() == []


def test_since_returns_only_what_changed(client):
    card = client.ask("manager", f"/approval {PENDING}")
    first = client.messages(card["chat_id"])
    assert {m["message_id"] for m in first["messages"]} == {card["message_id"], card["parent_id"]}
    client.click("manager", card, "approve")
    later = client.messages(card["chat_id"], first["cursor"] + 1)
    assert [m["message_id"] for m in later["messages"]] == [card["message_id"]]
    assert later["messages"][0]["version"] >= 2


def test_the_call_log_shows_calls_with_secrets_masked(client, demo):
    card = client.ask("manager", f"/approval {PENDING}")
    client.click("manager", card, "approve")
    # calls still go out after the answer (names, other copies): wait until the bot is quiet
    seen: list[int] = []
    assert wait_until(lambda: seen.append(len(demo.state.calls)) or (len(seen) > 5 and len(set(seen[-5:])) == 1))
    status, answer = client.get("calls")
    assert status == 200 and answer["total"] == len(demo.state.calls)
    text = json.dumps(answer, ensure_ascii=False)
    assert not TOKEN_LIKE.search(text) and data.APP_SECRET not in text
    calls = answer["calls"]
    task = next(c for c in calls if c["endpoint"] == "task_approve")
    assert task["method"] == "POST" and task["path"] == "/open-apis/approval/v4/tasks/approve"
    assert (task["body"]["instance_code"], task["body"]["user_id"]) == (PENDING, "ou_manager")
    assert task["status"] == 200 and task["code"] == 0 and task["outcome"] == "ok"
    reply = next(c for c in calls if c["endpoint"] == "message_reply")
    assert json.loads(reply["body"]["content"])["schema"] == "2.0"
    if any(c["endpoint"] == "token" for c in calls):
        token = next(c for c in calls if c["endpoint"] == "token")
        assert token["answer"]["tenant_access_token"] == "••••(masked)"
        assert token["body"]["app_secret"] == "••••(masked)"
    status, tail = client.get(f"calls?since={answer['total']}")
    assert status == 200 and tail["calls"] == []


def test_mask_hides_tokens_at_any_depth():
    body = {"token": "c-" + "a" * 40, "card": {"note": "t-g" + "b" * 38, "keep": "plain"},
            "list": [{"app_secret": "s3cret"}], "app_access_token": ""}
    masked = mask(body)
    assert masked["token"] == "••••(masked)" and masked["list"][0]["app_secret"] == "••••(masked)"
    assert masked["card"] == {"note": "t-g••••(masked)", "keep": "plain"}
    assert masked["app_access_token"] == ""
    assert body["token"].startswith("c-a"), "the original is untouched"


def test_faults_are_validated_listed_and_cleared(client, demo):
    bad = [{"endpoint": "nope", "code": 1}, {"code": 1}, {"endpoint": "process"},
           {"endpoint": "process", "latency_s": 99}, {"endpoint": "process", "hold": True},
           {"endpoint": "process", "code": "abc"}, {"endpoint": "process", "latency_s": -1}]
    for body in bad:
        status, answer = client.post("faults", body)
        assert status == 400 and answer["error"], body
    status, answer = client.post("faults", {"endpoint": "task_approve", "code": "1390001", "times": 1})
    assert status == 200 and answer["fault"]["code"] == 1390001
    _, listed = client.get("faults")
    assert [(f["endpoint"], f["code"], f["hits"]) for f in listed["faults"]] == [("task_approve", 1390001, 0)]

    card = client.ask("manager", f"/approval {PENDING}")
    answer = client.click("manager", card, "approve")
    assert answer["toast"]["type"] == "error"  # the bot's error handling, as the user sees it
    assert demo.state.snapshot(PENDING)["instance"]["status"] == "PENDING"
    _, calls = client.get("calls")
    task = [c for c in calls["calls"] if c["endpoint"] == "task_approve"]
    assert [(c["code"], c["fault"]["code"]) for c in task] == [(1390001, 1390001)]

    response = client.http.delete("/_playground/api/faults")
    assert response.status_code == 200 and demo.state.faults == []


def test_latency_makes_the_bot_finish_with_a_delayed_update(client, demo):
    """Slow Feishu: the bot answers "processing" in time, then the card changes in place later."""
    card = client.ask("manager", f"/approval {PENDING}")
    for endpoint in ("instance_get", "task_approve"):
        status, _ = client.post("faults", {"endpoint": endpoint, "latency_s": 1.4, "times": 1})
        assert status == 200
    answer = client.click("manager", card, "approve")
    assert answer["status"] == 200 and not answer["late"]
    assert answer["toast"] == {"type": "info", "content": cards.text("toast.processing", LOCALE)}
    final = client.wait_version(card, 2)
    while final["content"]["header"]["template"] != "green":
        final = client.wait_version(card, final["version"] + 1)
    assert final["message_id"] == card["message_id"]
    vias = [entry["via"] for entry in demo.state.message(card["message_id"])["history"]]
    assert vias[1:] and set(vias[1:]) <= {"card_update", "patch"}, vias


def test_attach_bot_registers_the_playground_on_a_fresh_server():
    state = SandboxState()
    with ServerThread(create_sandbox_app(state)) as server:
        env = {"FEISHU_ENCRYPT_KEY": "k", "FEISHU_VERIFICATION_TOKEN": "t"}
        url = attach_bot(state, server, "http://127.0.0.1:9", env)
        assert url == f"{server.url}/playground"
        assert server.app.test_client().get("/playground").status_code == 200


def test_attach_bot_says_when_it_is_too_late_to_register():
    state = SandboxState()
    with ServerThread(create_sandbox_app(state)) as server:
        assert server.app.test_client().get("/_sandbox/samples").status_code == 200
        with pytest.raises(RuntimeError, match="before the sandbox serves"):
            attach_bot(state, server, "http://127.0.0.1:9", {"FEISHU_ENCRYPT_KEY": "k",
                                                              "FEISHU_VERIFICATION_TOKEN": "t"})


# -- what happens elsewhere in Feishu ---------------------------------------------------------------------------


def _actions(card) -> list[str]:
    return [a for a in (action_of(b) for _, b in button_paths(card)) if a]


def _bot_cards(demo, user: str) -> list[dict]:
    return [m for m in demo.state.bot_messages(data.p2p_chat(user)) if m["msg_type"] == "interactive"]


def test_a_new_submission_reaches_its_approver_and_a_decision_in_feishu_updates_the_card(client, demo):
    status, answer = client.post("submit", {"definition": "native_remedy", "requester": "employee"})
    assert status == 200
    code = answer["instance_code"]
    assert wait_until(lambda: any(code in card_text(m["content"]) for m in _bot_cards(demo, "manager")))
    (card,) = [m for m in _bot_cards(demo, "manager") if code in card_text(m["content"])]
    assert "approve" in _actions(card["content"])

    status, decided = client.post("decide", {"instance_code": code, "action": "approve", "comment": "ok"})
    assert status == 200 and decided["status"] == "APPROVED"
    # the manager's copy follows: nothing left to approve (revoking what was approved stays theirs to do)
    assert wait_until(lambda: "approve" not in _actions(demo.state.message(card["message_id"])["content"]))
    assert "reject" not in _actions(demo.state.message(card["message_id"])["content"])


def test_simulations_refuse_what_cannot_be(client, demo):
    assert client.post("submit", {"definition": "nope", "requester": "employee"})[0] == 400
    assert client.post("submit", {"definition": "native_remedy", "requester": "nobody"})[0] == 400
    assert client.post("decide", {"instance_code": "no-such-code", "action": "approve"})[0] == 404
    assert client.post("decide", {"instance_code": INSTANCES["remedy_approved"], "action": "maybe"})[0] == 400
    status, answer = client.post("decide", {"instance_code": INSTANCES["remedy_approved"], "action": "approve"})
    assert status == 409 and "APPROVED" in answer["error"]


def test_the_digest_button_sends_the_list_now(client, demo):
    client.ask("manager", f"/approval {PENDING}")  # the bot now knows the manager as an approver
    status, answer = client.post("digest", {})
    assert status == 200 and answer["sent"] == 1
    lists = [m for m in _bot_cards(demo, "manager") if "pending_page" in card_text(m["content"])
             or "approve_all" in card_text(m["content"])]
    assert lists


def test_invalid_fault_values_are_answered_never_dropped(client):
    for body, word in [({"endpoint": "process", "latency_s": "abc"}, "latency_s"),
                       ({"endpoint": "process", "code": 1220600, "times": 0}, "times"),
                       ({"endpoint": "process", "code": 1220600, "times": 1.5}, "times"),
                       ({"endpoint": "process", "http_status": 99999}, "http_status"),
                       ({"endpoint": "process", "http_status": 200}, "http_status"),
                       ({"endpoint": "process", "drop": "yes"}, "drop"),
                       ({"endpoint": "process", "code": True}, "code"),
                       ({"endpoint": "process", "latency_s": "nan"}, "latency_s")]:
        status, answer = client.post("faults", body)
        assert status == 400 and word in answer["error"], body
    status, answer = client.post("faults", {"endpoint": "process", "drop": "true", "times": "2"})
    assert status == 200 and answer["fault"]["drop"] is True
