"""The webhook as an attacker and as Feishu meet it: fixed answers, no 500s, nothing accepted twice."""

from __future__ import annotations

import json
import socket
import threading
import time

import pytest

import cards
from bot.app import create_app, shutdown
from bot.store import HealthReport
from sandbox.data import INSTANCES
from sandbox.server import ServerThread
from tests.integration.harness import ENCRYPT_KEY, TOKEN, bot_config

FIXED_401 = {"code": 401, "msg": "unauthorized"}
FIXED_400 = {"code": 400, "msg": "bad request"}


def sealed(bot, text="/help", **kwargs):
    return bot.sender.build_message("manager", text, **kwargs)


def test_genuine_event_is_answered(bot):
    headers, body = sealed(bot)
    assert bot.sender.post(headers, body).status == 200


def test_bad_signature_is_401_with_a_fixed_body(bot, sandbox):
    headers, body = sealed(bot)
    headers = dict(headers, **{"X-Lark-Signature": "0" * 64})
    answer = bot.sender.post(headers, body)
    assert (answer.status, answer.json) == (401, FIXED_401)


def test_missing_signature_headers_are_401(bot):
    headers, body = sealed(bot)
    headers = {k: v for k, v in headers.items() if not k.lower().startswith("x-lark")}
    assert bot.sender.post(headers, body).status == 401


@pytest.mark.parametrize("offset,status", [(-298, 200), (298, 200), (-302, 401), (302, 401), (-7 * 3600, 401)])
def test_timestamp_window_both_ways(bot, offset, status):
    sender = bot.sender
    original = sender.clock
    sender.clock = lambda: time.time() + offset
    try:
        headers, body = sealed(bot)
    finally:
        sender.clock = original
    assert bot.sender.post(headers, body).status == status


def test_replayed_event_has_one_effect(bot, sandbox):
    sent = bot.sender.message("manager", f"/approve {INSTANCES['remedy_pending']}")
    bot.reply_to(sent.message_id)
    for _ in range(2):
        assert bot.sender.post(sent.request_headers, sent.request_body).status == 200
    assert len(sandbox.action_calls()) == 1


def test_wrong_token_or_app_is_401(bot, sandbox):
    from sandbox.sender import EventSender

    for kwargs in ({"verification_token": "not-the-token"}, {"app_id": "cli_other_app"}):
        args = {"encrypt_key": ENCRYPT_KEY, "verification_token": TOKEN, **kwargs}
        other = EventSender(bot.server.url, **args)
        headers, body = other.build_message("manager", "/help")
        assert bot.sender.post(headers, body).status == 401


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1,2]", b'{"encrypt": "%%%"}', b'{"encrypt": "QUJD"}', b'{"a": 1} trailing', b"[" * 100000,
     b'{"encrypt": "' + b"A" * 64 + b'"}', b"\xff\xfe"],
)
def test_malformed_bodies_are_400(bot, body):
    headers, _ = sealed(bot)
    from bot.security import event_signature

    ts, nonce = headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"]
    headers = dict(headers, **{"X-Lark-Signature": event_signature(ts, nonce, ENCRYPT_KEY, body)})
    answer = bot.sender.post(headers, body)
    assert (answer.status, answer.json) == (400, FIXED_400)


def test_decryption_failures_look_alike(bot):
    from bot.security import encrypt, event_signature

    answers = set()
    for plaintext in (b"not json", b"\xff\xfe\xfd", b"[1]"):
        body = json.dumps({"encrypt": encrypt(ENCRYPT_KEY, plaintext)}).encode()
        headers, _ = sealed(bot)
        ts, nonce = headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"]
        headers = dict(headers, **{"X-Lark-Signature": event_signature(ts, nonce, ENCRYPT_KEY, body)})
        answer = bot.sender.post(headers, body)
        answers.add((answer.status, answer.text))
    assert len(answers) == 1


def test_oversized_body_is_413(bot):
    headers, _ = sealed(bot)
    answer = bot.sender.post(headers, b"{" + b" " * (1024 * 1024 + 1) + b"}")
    assert answer.status == 413


def test_unknown_event_types_are_acknowledged_and_ignored(bot, sandbox):
    payload = bot.sender.message_payload("manager", "/help")
    payload["header"]["event_type"] = "contact.user.deleted_v3"
    headers, body = bot.sender.seal(payload)
    before = len(sandbox.calls)
    answer = bot.sender.post(headers, body)
    assert (answer.status, answer.json) == (200, {})
    assert len(sandbox.calls) == before


def test_url_verification_echoes_the_challenge_escaped(bot):
    tricky = '","injected":"1'
    answer = bot.sender.url_verification(encrypted=True, challenge=tricky)
    assert answer.status == 200 and answer.json == {"challenge": tricky}


def test_url_verification_with_wrong_token_is_refused(bot):
    from sandbox.sender import EventSender

    other = EventSender(bot.server.url, encrypt_key=ENCRYPT_KEY, verification_token="wrong")
    assert other.url_verification(encrypted=True).status == 401


def test_legacy_card_signature_and_replay(bot, sandbox):
    reply = bot.say("manager", f"/approval {INSTANCES['remedy_pending']}")
    value = {"action": "approve", "approval_id": INSTANCES["remedy_pending"], "approval_type": "remedy",
             "v": cards.CARD_VERSION}
    headers, body = bot.sender.build_legacy_click("manager", value, message_id=reply["message_id"],
                                                  chat_id=reply["chat_id"])
    forged = dict(headers, **{"X-Lark-Signature": "0" * 40})
    assert bot.sender.post(forged, body, "/webhook/card").status == 401
    assert sandbox.action_calls() == []
    assert bot.sender.post(headers, body, "/webhook/card").status == 200
    assert bot.sender.post(headers, body, "/webhook/card").status == 200
    assert len(sandbox.action_calls()) == 1


def test_no_secret_or_exception_text_in_answers(bot):
    headers, body = sealed(bot)
    answers = [bot.sender.post(dict(headers, **{"X-Lark-Signature": "x"}), body),
               bot.sender.post(headers, b"\x00" * 10)]
    for answer in answers:
        for secret in (ENCRYPT_KEY, TOKEN, bot.config.app_secret.reveal()):
            assert secret not in answer.text
        assert "Traceback" not in answer.text and "Error" not in answer.text


@pytest.mark.slow  # a fresh process: imports lark-oapi (about 4 s)
def test_missing_encrypt_key_stops_start_up(tmp_path):
    import subprocess
    import sys

    env = {"PATH": "/usr/bin:/bin", "FEISHU_APP_ID": "cli_x", "FEISHU_APP_SECRET": "s",
           "FEISHU_VERIFICATION_TOKEN": "t"}
    code = "from bot.app import create_app; create_app()"
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0
    assert "FEISHU_ENCRYPT_KEY is missing" in result.stderr
    assert "Traceback" not in result.stderr


def test_healthz_stays_fast_while_slow_clients_hold_connections(sandbox, tmp_path):
    """Slow-body clients each hold one server thread; the health check still answers quickly."""
    app = create_app(bot_config(sandbox, tmp_path))
    server = ServerThread(app).start()
    host, port = "127.0.0.1", server.port
    sockets = []
    try:
        for _ in range(8):
            s = socket.create_connection((host, port), timeout=5)
            s.sendall(b"POST /webhook/event HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
            sockets.append(s)
        import requests

        started = time.monotonic()
        assert requests.get(server.url + "/healthz", timeout=5).status_code == 200
        assert time.monotonic() - started < 1.0
    finally:
        for s in sockets:
            s.close()
        server.stop()
        shutdown(app)


def test_metrics_move(bot):
    import requests

    bot.say("manager", "/help")
    headers, body = sealed(bot)
    bot.sender.post(dict(headers, **{"X-Lark-Signature": "0" * 64}), body)
    text = requests.get(bot.server.url + "/metrics", timeout=5).text
    assert 'webhook_rejected_total{reason="bad_signature"}' in text
    assert "bot_events_total" in text and "feishu_api_seconds" in text


def test_concurrent_duplicate_delivery_acts_once(bot, sandbox):
    payload = bot.sender.message_payload("manager", f"/approve {INSTANCES['remedy_pending']}")
    message = payload["event"]["message"]
    sandbox.state.record_user_message("ou_manager", message["chat_id"], "", message_id=message["message_id"],
                                      content=message["content"])
    barrier = threading.Barrier(6)
    answers = []

    def deliver():
        headers, body = bot.sender.seal(payload)
        barrier.wait()
        answers.append(bot.sender.post(headers, body).status)

    threads = [threading.Thread(target=deliver) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert bot.reply_to(message["message_id"]) is not None
    assert len(sandbox.action_calls()) == 1
    assert set(answers) <= {200, 503}


def test_signed_but_unreadable_callback_gets_200_and_a_toast(bot):
    """Feishu never re-sends a callback and shows error 200671 for anything but 200: say what went wrong."""
    payload = bot.sender.click_payload("manager", {"action": "approve"}, message_id="om_x", chat_id="oc_x")
    payload["event"]["action"]["value"] = "a string, not an object"
    headers, body = bot.sender.seal(payload)
    answer = bot.sender.post(headers, body)
    assert answer.status == 200
    assert answer.json["toast"] == {"type": "error",
                                    "content": "This click could not be read. Please open the approval again.",
                                    "i18n": {"zh_cn": "无法识别此次点击，请重新打开审批。",
                                             "en_us": "This click could not be read. Please open the approval again."}}


def test_healthz_reports_an_unreachable_store(bot, monkeypatch):
    import requests

    assert requests.get(bot.server.url + "/healthz", timeout=5).status_code == 200
    monkeypatch.setattr(bot.store, "health", lambda: HealthReport.failed("write", "unreachable"))
    answer = requests.get(bot.server.url + "/healthz", timeout=5)
    assert answer.status_code == 503
    assert answer.json() == {"status": "store unavailable", "store": "write: unreachable"}


def test_delivery_left_unfinished_by_a_dead_worker_is_processed_on_retry(bot, sandbox):
    """A click whose claim is held (its worker died) is told to wait, with 200 (Feishu never re-sends a callback
    and shows error 200671 for anything else); once the lease runs out, the next delivery takes it over."""
    reply = bot.say("manager", f"/approval {INSTANCES['remedy_pending']}")
    value = {"action": "approve", "approval_id": INSTANCES["remedy_pending"], "approval_type": "remedy",
             "v": cards.CARD_VERSION}
    payload = bot.sender.click_payload("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    key = "evt:" + payload["header"]["event_id"]
    assert bot.store.claim(key, 1.0, time.time()).value == "new"  # a worker took it (1 s lease), then died
    headers, body = bot.sender.seal(payload)
    held = bot.sender.post(headers, body)
    assert held.status == 200 and held.toast["type"] == "info" and "right now" in held.toast["content"]
    assert sandbox.action_calls() == []
    time.sleep(1.1)  # the lease runs out
    headers, body = bot.sender.seal(payload)  # Feishu's retry, freshly signed
    answer = bot.sender.post(headers, body)
    assert answer.status == 200 and answer.toast["type"] == "success"
    assert len(sandbox.action_calls()) == 1
