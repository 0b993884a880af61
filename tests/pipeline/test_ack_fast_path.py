"""Acknowledging what needs no work costs no store write (docs/architecture.md, "One pipeline"): a group message
that mentions nobody, an event type the bot does not read, a re-delivered event. Through the real app, its
signature, decryption and parse, with the real store counting its transactions; and the pipeline's own verdict
on what needs no work (`settle_without_work`), which the long connection answers without a thread hand-off."""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.app import create_app, shutdown
from bot.config import load_config
from bot.security import encrypt, event_signature
from core.inbound import OtherEvent
from handlers.pipeline import settle_without_work
from sandbox.data import APP_ID
from sandbox.sender import EventSender
from tests.fakes import FakeGateway, FakeStore, make_context, message

KEY, TOKEN = "fast-path-key", "fast-path-token"


@pytest.fixture
def app(tmp_path):
    env = {"FEISHU_APP_ID": APP_ID, "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": TOKEN,
           "FEISHU_ENCRYPT_KEY": KEY, "BOT_LOCALE": "en_us", "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}"}
    made = create_app(load_config(env), feishu=FakeGateway())
    yield made
    shutdown(made)


def _store(app: Any) -> Any:
    return app.extensions["approval_bot"].ctx.store


def _post(app: Any, payload: dict[str, Any]) -> Any:
    body = json.dumps({"encrypt": encrypt(KEY, json.dumps(payload).encode())}).encode()
    ts, nonce = str(int(time.time())), secrets.token_hex(8)
    headers = {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
               "X-Lark-Signature": event_signature(ts, nonce, KEY, body), "Content-Type": "application/json"}
    return app.test_client().post("/webhook/event", data=body, headers=headers)


def _sender() -> EventSender:
    return EventSender("http://127.0.0.1", encrypt_key=KEY, verification_token=TOKEN)


def test_a_group_message_without_a_mention_is_acknowledged_without_the_store(app):
    store, before = _store(app), _store(app).round_trips
    for text in ("lunch at noon?", "/approve 7100000000000000001", "@Approval Bot?"):
        payload = _sender().message_payload("employee", text, chat="group", event_id=secrets.token_hex(16))
        assert _post(app, payload).status_code == 200
    assert store.round_trips == before


def test_an_event_type_the_bot_does_not_read_is_acknowledged_without_the_store(app):
    payload = _sender().message_payload("employee", "hi", chat="group", mention_bot=True)
    payload["header"]["event_type"] = "im.chat.member.user.added_v1"
    store, before = _store(app), _store(app).round_trips
    assert _post(app, payload).status_code == 200
    assert store.round_trips == before


def test_a_re_delivered_event_is_answered_with_one_read_and_no_write(app):
    payload = _sender().message_payload("manager", "/help", event_id=secrets.token_hex(16))
    assert _post(app, payload).status_code == 200  # handled: claimed, answered, finished
    store = _store(app)
    time.sleep(0.2)  # the reply goes out in the pool; its writes are the first delivery's
    reads, writes = store.round_trips - store.writes, store.writes
    assert _post(app, payload).status_code == 200
    assert (store.round_trips - store.writes - reads, store.writes - writes) == (1, 0)


def test_a_group_message_that_mentions_the_bot_is_still_read_in_full(app):
    payload = _sender().message_payload("manager", "/help", chat="group", mention_bot=True)
    store, before = _store(app), _store(app).writes
    assert _post(app, payload).status_code == 200
    assert store.writes > before  # claimed: the fast path is only for what needs no work


class _NoBotId(FakeGateway):
    def bot_open_id(self) -> str:
        raise AssertionError("a group message that mentions nobody needs not know the bot's id")


@pytest.mark.parametrize(("inbound", "outcome"), [
    (dataclasses.replace(message("employee", "lunch?", chat="group"), content="not json"), "silent"),
    (message("other_bot", "/help", sender_type="app"), "silent"),
    (OtherEvent("e1", "im.chat.member.user.added_v1"), "ignored"),
])
def test_what_needs_no_work_is_settled_from_the_value_alone(inbound, outcome):
    """handlers.pipeline.settle_without_work, which the long connection runs on its event loop: no store,
    no Feishu call (not even the bot's own id), no pool; the hook hears it settled."""
    store, settled = FakeStore(), []
    ctx = make_context(_NoBotId(), store, pool=_NoPool(), on_settled=lambda e, o: settled.append((e, o)))
    answer = settle_without_work(ctx, inbound)
    assert answer is not None and answer.outcome == outcome and answer.body == {}
    assert store.writes == 0 and settled == [(inbound.event_id, outcome)]


@pytest.mark.parametrize("inbound", [
    message("manager", "/help"),  # one-to-one: always answered
    message("manager", "/help", chat="group", mention_bot=True),
    message("manager", "lunch?", chat="group", mention_bot=True),  # whom it mentions is the pipeline's to read
])
def test_what_may_need_work_is_left_to_dispatch(inbound):
    assert settle_without_work(make_context(FakeGateway(), FakeStore(), pool=_NoPool()), inbound) is None


class _NoPool(ThreadPoolExecutor):
    def submit(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("no thread hand-off for what needs no work")
