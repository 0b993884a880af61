"""The event sender signs and encrypts like Feishu: hand-computed vectors, round trips, and lark-oapi's own
EventDispatcherHandler / CardActionHandler accepting what the sender builds (two readings of one protocol)."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import lark_oapi as lark
import pytest
from flask import Flask, Response, request
from lark_oapi.core.model import RawRequest
from lark_oapi.core.utils.decryptor import AESCipher
from lark_oapi.event.callback.model.p2_card_action_trigger import P2CardActionTriggerResponse

from sandbox import crypto, data
from sandbox.sender import EventSender
from sandbox.server import ServerThread
from sandbox.state import EventTarget, SandboxState

KEY = "test-encrypt-key"
VT = "test-verification-token"


# -- crypto ---------------------------------------------------------------------------------------------------


def test_signature_matches_a_hand_computed_vector():
    # printf '%s' '1700000000abc123test-encrypt-key{"encrypt":"xyz"}' | sha256sum
    assert crypto.signature("1700000000", "abc123", KEY, b'{"encrypt":"xyz"}') == (
        "7ddb33e593fdadb85d7a6d44aad2acd4756b51b40e18c8189e1c5a91fdf66524")
    assert crypto.verify("1700000000", "abc123", KEY, b'{"encrypt":"xyz"}',
                         "7ddb33e593fdadb85d7a6d44aad2acd4756b51b40e18c8189e1c5a91fdf66524")
    assert not crypto.verify("1700000001", "abc123", KEY, b'{"encrypt":"xyz"}',
                             "7ddb33e593fdadb85d7a6d44aad2acd4756b51b40e18c8189e1c5a91fdf66524")


def test_legacy_signature_matches_a_hand_computed_vector():
    # printf '%s' '1700000000abc123vt-legacy{"open_id":"ou_manager"}' | sha1sum
    assert crypto.legacy_signature("1700000000", "abc123", "vt-legacy", b'{"open_id":"ou_manager"}') == (
        "ad7321c7f2b895db5a4b9b6c9e69f6bf12b67184")


def test_encryption_matches_openssl_with_a_fixed_iv():
    # key=$(printf test-encrypt-key | sha256sum); openssl enc -aes-256-cbc -K $key -iv 000102…0f, IV prepended
    iv = bytes(range(16))
    expected = "AAECAwQFBgcICQoLDA0OD196nXoJ0rVVym20isHpfj53kMYlzayvhhhybSgs0hi9"
    assert crypto.encrypt('{"hello":"世界"}', KEY, iv=iv) == expected
    assert crypto.decrypt(expected, KEY) == '{"hello":"世界"}'.encode()


@pytest.mark.parametrize("plaintext", ["", "a", "x" * 15, "y" * 16, "审批" * 100, json.dumps({"k": list(range(50))})])
def test_round_trip_and_the_sdk_decrypts_it(plaintext):
    token = crypto.encrypt(plaintext, KEY)
    assert crypto.decrypt(token, KEY) == plaintext.encode()
    assert AESCipher(KEY).decrypt_str(token) == plaintext
    assert crypto.encrypt(plaintext, KEY) != token  # a fresh random IV every time


def test_decrypt_is_strict():
    token = crypto.encrypt("hello", KEY)
    raw = bytearray(base64.b64decode(token))
    raw[-1] ^= 0xFF
    with pytest.raises(ValueError):
        crypto.decrypt(base64.b64encode(bytes(raw)).decode(), KEY)
    with pytest.raises(ValueError):
        crypto.decrypt(base64.b64encode(b"short").decode(), KEY)
    with pytest.raises(ValueError):
        crypto.decrypt(token, "another-key")


# -- the SDK's dispatcher accepts what the sender builds -------------------------------------------------------


class Seen:
    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.clicks: list[Any] = []
        self.approvals: list[Any] = []
        self.legacy: list[Any] = []


def dispatcher(seen: Seen, card_answer: dict | None = None) -> lark.EventDispatcherHandler:
    def on_click(event: Any) -> P2CardActionTriggerResponse:
        seen.clicks.append(event)
        return P2CardActionTriggerResponse(card_answer or {"toast": {"type": "success", "content": "ok"}})

    return (lark.EventDispatcherHandler.builder(KEY, VT, lark.LogLevel.ERROR)
            .register_p2_im_message_receive_v1(seen.messages.append)
            .register_p2_card_action_trigger(on_click)
            .register_p1_customized_event("approval_instance", seen.approvals.append)
            .build())


def raw(headers: dict[str, str], body: bytes, uri: str = "/webhook/event") -> RawRequest:
    req = RawRequest()
    req.uri, req.headers, req.body = uri, dict(headers), body
    return req


@pytest.fixture
def sender() -> EventSender:
    return EventSender("http://127.0.0.1:9", encrypt_key=KEY, verification_token=VT)


def test_sdk_accepts_a_group_message_with_bot_mention(sender):
    seen = Seen()
    headers, body = sender.build_message("manager", "/approve 7300491536801234561", chat="group", mention_bot=True,
                                         mention_all=True)
    assert set(json.loads(body)) == {"encrypt"}
    response = dispatcher(seen).do(raw(headers, body))
    assert response.status_code == 200, response.content
    event = seen.messages[0].event
    assert event.sender.sender_id.open_id == "ou_manager" and event.sender.sender_type == "user"
    assert (event.message.chat_id, event.message.chat_type) == ("oc_group_team", "group")
    assert json.loads(event.message.content) == {"text": "@_user_1 @_all /approve 7300491536801234561"}
    mention = event.message.mentions[0]
    assert (mention.key, mention.id.open_id, mention.name, mention.mentioned_type) == (
        "@_user_1", "ou_bot", "Approval Bot", "bot")
    assert seen.messages[0].header.token == VT and seen.messages[0].header.app_id == data.APP_ID


def test_sdk_accepts_a_p2p_message_without_mentions(sender):
    seen = Seen()
    headers, body = sender.build_message("ou_employee", "/help", mention_users=["manager2"])
    assert dispatcher(seen).do(raw(headers, body)).status_code == 200
    message = seen.messages[0].event.message
    assert message.chat_id == "oc_p2p_employee" and message.chat_type == "p2p"
    assert json.loads(message.content)["text"] == "/help @_user_1"
    assert message.mentions[0].id.open_id == "ou_manager2" and message.mentions[0].mentioned_type == "user"


def test_sdk_accepts_a_card_action_and_returns_its_answer(sender):
    seen = Seen()
    value = {"action": "approve", "approval_id": data.INSTANCES["remedy_pending"], "approval_type": "remedy", "v": 1}
    headers, body = sender.build_click("manager", value, message_id="om_x", chat_id="oc_p2p_manager",
                                       form_value={"reason": "ok"})
    response = dispatcher(seen).do(raw(headers, body))
    assert response.status_code == 200
    assert json.loads(response.content)["toast"]["content"] == "ok"
    event = seen.clicks[0].event
    assert event.operator.open_id == "ou_manager" and event.operator.user_id == "u_manager"
    assert event.action.value == value and event.action.form_value == {"reason": "ok"}
    assert event.context.open_message_id == "om_x" and event.context.open_chat_id == "oc_p2p_manager"
    assert event.token.startswith("c-") and event.host == "im_message"


def test_sdk_accepts_the_1_0_approval_instance_event(sender):
    seen = Seen()
    headers, body = sender.build_approval_instance(data.INSTANCES["remedy_pending"], "APPROVED", approval_code="X")
    assert dispatcher(seen).do(raw(headers, body)).status_code == 200
    event = seen.approvals[0].event
    assert event["type"] == "approval_instance" and event["status"] == "APPROVED"
    assert event["instance_code"] == data.INSTANCES["remedy_pending"] and event["approval_code"] == "X"


@pytest.mark.parametrize("encrypted", [True, False])
def test_sdk_answers_url_verification(sender, encrypted):
    headers, body = sender.build_url_verification(encrypted=encrypted, challenge="ch-123")
    assert ("encrypt" in json.loads(body)) is encrypted
    assert "X-Lark-Signature" not in headers
    response = dispatcher(Seen()).do(raw(headers, body))
    assert json.loads(response.content) == {"challenge": "ch-123"}


@pytest.mark.parametrize("tamper", ["signature", "timestamp", "body", "key"])
def test_sdk_rejects_tampered_events(sender, tamper):
    headers, body = sender.build_message("manager", "/help")
    if tamper == "signature":
        headers["X-Lark-Signature"] = "0" * 64
    elif tamper == "timestamp":
        headers["X-Lark-Request-Timestamp"] = str(int(headers["X-Lark-Request-Timestamp"]) + 1)
    elif tamper == "body":
        body = body.replace(b'"}', b'" }')
    else:
        headers, body = EventSender("http://x", encrypt_key="other", verification_token=VT).build_message("manager",
                                                                                                          "/help")
    seen = Seen()
    assert dispatcher(seen).do(raw(headers, body)).status_code == 500
    assert seen.messages == []


def test_every_attempt_is_freshly_signed(sender):
    payload = sender.message_payload("manager", "/help", event_id="evt-fixed")
    first, second = sender.seal(payload), sender.seal(payload)
    assert first[1] != second[1]  # a new IV
    assert first[0]["X-Lark-Request-Nonce"] != second[0]["X-Lark-Request-Nonce"]
    for headers, body in (first, second):
        assert crypto.verify(headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"], KEY, body,
                             headers["X-Lark-Signature"])
        assert json.loads(crypto.decrypt(json.loads(body)["encrypt"], KEY))["header"]["event_id"] == "evt-fixed"


def test_without_an_encrypt_key_events_are_plain_and_unsigned():
    plain = EventSender("http://x", encrypt_key="", verification_token=VT)
    headers, body = plain.build_message("manager", "/help")
    assert json.loads(body)["header"]["token"] == VT
    assert "X-Lark-Signature" not in headers
    seen = Seen()
    handler = (lark.EventDispatcherHandler.builder("", VT, lark.LogLevel.ERROR)
               .register_p2_im_message_receive_v1(seen.messages.append).build())
    assert handler.do(raw(headers, body)).status_code == 200


def test_legacy_card_callback_is_accepted_by_the_sdk(sender):
    seen = Seen()

    def on_card(card: Any) -> dict:
        seen.legacy.append(card)
        return {"toast": {"type": "info", "content": "ok"}}

    handler = lark.CardActionHandler.builder("", VT, lark.LogLevel.ERROR).register(on_card).build()
    headers, body = sender.build_legacy_click("admin", {"action": "revoke"}, message_id="om_1", chat_id="oc_group_team")
    assert "encrypt" not in json.loads(body)
    response = handler.do(raw(headers, body, "/webhook/card"))
    assert response.status_code == 200
    card = seen.legacy[0]
    assert (card.open_id, card.user_id, card.open_message_id, card.token[:2]) == ("ou_admin", "u_admin", "om_1", "c-")
    assert card.action.value == {"action": "revoke"}
    headers["X-Lark-Signature"] = "0" * 40
    assert handler.do(raw(headers, body, "/webhook/card")).status_code == 500


def test_unknown_users_are_refused_unless_open_ids(sender):
    assert sender.user("ou_outsider")["open_id"] == "ou_outsider"
    with pytest.raises(ValueError):
        sender.user("nobody")


# -- posting to a bot over HTTP, with the state ------------------------------------------------------------------


class StubBot:
    """A tiny bot built on lark-oapi's own handler: what arrives over HTTP is verified by the SDK."""

    def __init__(self) -> None:
        self.seen = Seen()
        self.answer: dict[str, Any] = {"toast": {"type": "success", "content": "done"}}
        self.legacy_answer: dict[str, Any] = {}
        app = Flask("stub-bot")
        handler = (lark.EventDispatcherHandler.builder(KEY, VT, lark.LogLevel.ERROR)
                   .register_p2_im_message_receive_v1(self.seen.messages.append)
                   .register_p2_card_action_trigger(self._click)
                   .register_p1_customized_event("approval_instance", self.seen.approvals.append)
                   .register_p1_customized_event("approval_task", self.seen.approvals.append).build())
        legacy = lark.CardActionHandler.builder("", VT, lark.LogLevel.ERROR).register(self._legacy).build()

        @app.post("/webhook/event")
        def event() -> Response:
            answer = handler.do(raw(dict(request.headers), request.get_data()))
            return Response(answer.content, status=answer.status_code, content_type="application/json")

        @app.post("/webhook/card")
        def card() -> Response:
            answer = legacy.do(raw(dict(request.headers), request.get_data(), "/webhook/card"))
            return Response(answer.content, status=answer.status_code, content_type="application/json")

        self.app = app

    def _click(self, event: Any) -> P2CardActionTriggerResponse:
        self.seen.clicks.append(event)
        return P2CardActionTriggerResponse(self.answer)

    def _legacy(self, card: Any) -> dict:
        self.seen.legacy.append(card)
        return self.legacy_answer


@pytest.fixture
def bot() -> Iterator[tuple[StubBot, str]]:
    stub = StubBot()
    with ServerThread(stub.app) as server:
        yield stub, server.url


def bot_card(state: SandboxState, text: str = "pending") -> str:
    card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": text}]}}
    message = state.add_message(chat_id="oc_p2p_manager", msg_type="interactive", body=json.dumps(card),
                                content=card, from_bot=True)
    return message["message_id"]


def test_message_over_http_is_recorded_in_the_state(bot):
    stub, url = bot
    state = SandboxState()
    sender = EventSender(url, encrypt_key=KEY, verification_token=VT, state=state)
    sent = sender.message("manager", "/pending", chat="group", mention_bot=True)
    assert sent.status == 200 and sent.json == {"msg": "success"} and not sent.late
    assert sent.event_id == stub.seen.messages[0].header.event_id
    recorded = state.message(sent.message_id)
    assert recorded["chat_id"] == "oc_group_team" and not recorded["from_bot"]
    assert recorded["content"] == {"text": "@_user_1 /pending"}


def test_click_over_http_issues_a_token_and_applies_the_answered_card(bot):
    stub, url = bot
    state = SandboxState()
    message_id = bot_card(state)
    new_card = {"schema": "2.0", "body": {"elements": [{"tag": "markdown", "content": "approved"}]}}
    stub.answer = {"toast": {"type": "success", "content": "已通过"}, "card": {"type": "raw", "data": new_card}}
    sender = EventSender(url, encrypt_key=KEY, verification_token=VT, state=state)
    sent = sender.click("manager", {"action": "approve"}, message_id=message_id)  # chat id found in the state
    assert sent.ok and sent.toast["content"] == "已通过" and sent.card == new_card and not sent.card_error
    assert stub.seen.clicks[0].event.token == sent.token
    token = state.card_tokens[sent.token]
    assert token.message_id == message_id and token.answered_at is not None and token.operator == "ou_manager"
    assert state.message(message_id)["content"] == new_card
    assert state.message(message_id)["history"][-1]["via"] == "callback"


def test_a_1_0_card_answer_to_a_2_0_card_is_a_card_error(bot):
    stub, url = bot
    state = SandboxState()
    message_id = bot_card(state)
    stub.answer = {"card": {"type": "raw", "data": {"elements": [{"tag": "div"}]}}}
    sent = EventSender(url, encrypt_key=KEY, verification_token=VT, state=state).click(
        "manager", {"action": "approve"}, message_id=message_id)
    assert "200830" in sent.card_error
    assert state.message(message_id)["content"]["schema"] == "2.0"


def test_legacy_click_over_http(bot):
    stub, url = bot
    state = SandboxState()
    card1 = {"config": {"update_multi": True}, "elements": [{"tag": "div", "text": {"tag": "plain_text",
                                                                                    "content": "old"}}]}
    message = state.add_message(chat_id="oc_p2p_admin", msg_type="interactive", body=json.dumps(card1),
                                content=card1, from_bot=True)
    stub.legacy_answer = {**card1, "elements": [{"tag": "div", "text": {"tag": "plain_text", "content": "new"}}]}
    sent = EventSender(url, encrypt_key=KEY, verification_token=VT, state=state).legacy_click(
        "admin", {"action": "revoke"}, message_id=message["message_id"])
    assert sent.ok and sent.kind == "legacy"
    assert stub.seen.legacy[0].open_chat_id == "oc_p2p_admin"
    assert state.message(message["message_id"])["content"]["elements"][0]["text"]["content"] == "new"


def test_resend_keeps_the_event_id_and_resigns(bot):
    stub, url = bot
    sender = EventSender(url, encrypt_key=KEY, verification_token=VT)
    first = sender.message("employee", "/help")
    again = sender.resend(first)
    assert again.ok and again.event_id == first.event_id
    assert again.request_headers["X-Lark-Signature"] != first.request_headers["X-Lark-Signature"]
    assert [m.header.event_id for m in stub.seen.messages] == [first.event_id, first.event_id]


def test_url_verification_over_http(bot):
    _, url = bot
    sent = EventSender(url, encrypt_key=KEY, verification_token=VT).url_verification(challenge="abc")
    assert sent.json == {"challenge": "abc"}


def test_post_reports_a_bot_that_is_down():
    sent = EventSender("http://127.0.0.1:9", encrypt_key=KEY, verification_token=VT, timeout=1).message("manager",
                                                                                                       "/help")
    assert sent.status == 0 and sent.error and sent.late


def test_process_pushes_no_approval_event_task_changes_do(bot, api, state):
    stub, url = bot
    state.event_target = EventTarget(url=url, encrypt_key=KEY, verification_token=VT)
    for approval_code in state.definitions:
        state.subscribe(approval_code)
    assert api.process(data.RECORD_IDS["remedy_pending"], "remedy", 2).code == 0
    assert api.process(data.RECORD_IDS["remedy_linked"], "remedy", 2).code == 0  # a linked instance's record
    assert not state.wait_notifications(1, timeout=0.3)  # attendance changed; no instance did
    code = data.INSTANCES["remedy_pending"]
    state.decide(code, approve=True)  # the task's holder approves it in Feishu
    assert state.wait_notifications(2, timeout=5)
    assert [(e["type"], e["instance_code"], e["status"], e["http_status"]) for e in state.notifications] == [
        ("approval_task", code, "APPROVED", 200), ("approval_instance", code, "APPROVED", 200)]
    event = stub.seen.approvals[-1].event
    assert event["instance_code"] == code and event["status"] == "APPROVED"
    assert event["approval_code"] == state.instance(code)["approval_code"]
    assert not state.wait_notifications(3, timeout=0.3)


def test_a_template_card_answer_is_applied_as_a_template(bot):
    stub, url = bot
    state = SandboxState()
    message_id = bot_card(state)
    template = {"template_id": "AAqk1234", "template_variable": {"status": "approved"}}
    stub.answer = {"card": {"type": "template", "data": template}}
    sent = EventSender(url, encrypt_key=KEY, verification_token=VT, state=state).click(
        "manager", {"action": "approve"}, message_id=message_id)
    assert not sent.card_error
    assert state.message(message_id)["content"] == {"type": "template", "data": template}
