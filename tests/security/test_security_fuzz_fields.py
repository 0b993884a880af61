"""Correctly signed and encrypted events whose fields have any shape or type: never a 5xx, never a traceback.

Hypothesis replaces one field of each event type the bot reads (and some it does not) with an arbitrary JSON
value, re-seals the body as Feishu would, and posts it to the real Flask app (in-process, a fake gateway, a real
SQLite store). A verified event the bot cannot read is acknowledged (200 `{}`); a verified callback always gets
200 with a toast or a card (docs/security.md, T4 and T5)."""

from __future__ import annotations

import copy
import json
import time
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cards
from bot.app import create_app, shutdown
from bot.config import load_config
from bot.security import encrypt, event_signature
from tests import samples
from tests.fakes import FakeGateway
from tests.properties import examples

KEY, TOKEN, APP = "fuzz-encrypt-key", "fuzz-token", "cli_fuzz"
PENDING = "7100000000000000001"


def _v2(event_type: str, event: dict[str, Any]) -> dict[str, Any]:
    return {"schema": "2.0", "header": {"event_id": "ev", "event_type": event_type, "create_time": "1",
                                        "token": TOKEN, "app_id": APP, "tenant_key": "t"}, "event": event}


EVENTS = {
    "message": _v2("im.message.receive_v1", {
        "sender": {"sender_id": {"open_id": "ou_manager", "user_id": "u_manager"}, "sender_type": "user"},
        "message": {"message_id": "om_1", "chat_id": "oc_1", "chat_type": "p2p", "message_type": "text",
                    "content": json.dumps({"text": f"/approve {PENDING}"}),
                    "mentions": [{"key": "@_user_1", "id": {"open_id": "ou_bot"}, "name": "Bot"}]}}),
    "click": _v2("card.action.trigger", {
        "operator": {"open_id": "ou_manager", "user_id": "u_manager"}, "token": "c-x",
        "action": {"tag": "button", "value": {"action": "approve", "approval_id": PENDING,
                                              "approval_type": "remedy", "v": cards.CARD_VERSION},
                   "form_value": {"reason": "r"}},
        "context": {"open_message_id": "om_1", "open_chat_id": "oc_1"}}),
    "instance": {"uuid": "u1", "token": TOKEN, "ts": "1.0", "type": "event_callback",
                 "event": {"type": "approval_instance", "app_id": APP, "instance_code": PENDING,
                           "approval_code": "A", "status": "APPROVED", "operate_time": "1"}},
    "other": _v2("contact.user.created_v3", {"object": {"open_id": "ou_x"}}),
}


def _paths(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path] if path else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _paths(value, (*path, index))
    return found


# The envelope fields verification itself checks (type, token, app id) are T1's; here: everything else.
_ENVELOPE = {("schema",), ("header", "token"), ("header", "app_id"), ("token",), ("type",), ("event", "app_id")}
CASES = [(name, path) for name, event in EVENTS.items() for path in _paths(event) if path not in _ENVELOPE]
JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                    max_leaves=6)


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    env = {"FEISHU_APP_ID": APP, "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": TOKEN,
           "FEISHU_ENCRYPT_KEY": KEY, "BOT_LOCALE": "en_us",
           "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'bot.sqlite3'}"}
    gateway = FakeGateway(instances={PENDING: samples.remedy_pending()})
    app = create_app(load_config(env), feishu=gateway)
    yield app.test_client()
    shutdown(app)


def _post(client: Any, payload: dict[str, Any]) -> Any:
    body = json.dumps({"encrypt": encrypt(KEY, json.dumps(payload).encode())}).encode()
    ts, nonce = str(int(time.time())), "nonce"
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
               "X-Lark-Signature": event_signature(ts, nonce, KEY, body), "Content-Type": "application/json"}
    return client.post("/webhook/event", data=body, headers=headers)


def _set(payload: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node = payload
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


@settings(max_examples=examples(400), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=st.sampled_from(CASES), value=JSON, event_id=st.uuids())
def test_no_field_of_any_type_makes_a_server_error(client, case, value, event_id):
    name, path = case
    payload = copy.deepcopy(EVENTS[name])
    if "header" in payload:
        payload["header"]["event_id"] = str(event_id)
    else:
        payload["uuid"] = str(event_id)
    _set(payload, path, value)
    answer = _post(client, payload)
    assert answer.status_code < 500, (path, value, answer.get_data(as_text=True))
    assert b"Traceback" not in answer.get_data()
    if name == "click" and answer.status_code == 200:
        assert set(answer.get_json()) & {"toast", "card"} or answer.get_json() == {}


def test_the_unmodified_events_are_handled(client):
    """The control: each sample, unharmed, is accepted (so the fuzzing above starts from valid events)."""
    for name, event in EVENTS.items():
        payload = copy.deepcopy(event)
        answer = _post(client, payload)
        assert answer.status_code == 200, name
    assert _post(client, copy.deepcopy(EVENTS["click"])).status_code == 200
