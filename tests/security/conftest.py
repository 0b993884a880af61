"""Plays Feishu for the security tests: builds encrypted, signed pushes exactly as Feishu sends them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from bot.security import WebhookKeys, encrypt, event_signature, legacy_signature

KEY = "test-encrypt-key-Ωmega"  # non-ASCII on purpose: the key is hashed as UTF-8
TOKEN = "test-verification-token"
APP_ID = "cli_sandbox_app"
NOW = 1_700_000_000
SKEW = 300


@dataclass(frozen=True)
class Push:
    body: bytes
    headers: dict[str, str]


class Feishu:
    keys = WebhookKeys(encrypt_key=KEY, verification_token=TOKEN, app_id=APP_ID, max_skew_s=SKEW)
    now = NOW

    @staticmethod
    def event_payload(event_id: str = "ev-1", event_type: str = "im.message.receive_v1", **header: Any) -> dict:
        head = {"event_id": event_id, "event_type": event_type, "create_time": "1700000000000",
                "token": TOKEN, "app_id": APP_ID, "tenant_key": "tenant_sandbox"}
        head.update(header)
        return {"schema": "2.0", "header": head, "event": {"message": {"text": "hi"}}}

    @staticmethod
    def v1_payload(uuid: str = "uuid-1", event_type: str = "approval_instance", **event: Any) -> dict:
        return {"uuid": uuid, "token": TOKEN, "ts": "1700000000.1", "type": "event_callback",
                "event": {"type": event_type, "app_id": APP_ID, **event}}

    @staticmethod
    def challenge_payload(challenge: str = "ch-1", token: str = TOKEN) -> dict:
        return {"challenge": challenge, "token": token, "type": "url_verification"}

    @staticmethod
    def sealed(payload: Any, key: str = KEY) -> bytes:
        """The outer body Feishu posts: {"encrypt": base64(iv‖AES(json))}."""
        inner = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode()
        return json.dumps({"encrypt": encrypt(key, inner)}).encode()

    @staticmethod
    def sign(body: bytes, ts: str | int = NOW, nonce: str = "nonce-1", key: str = KEY) -> dict[str, str]:
        ts = str(ts)
        return {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": event_signature(ts, nonce, key, body)}

    def push(self, payload: Any, ts: str | int = NOW, nonce: str = "nonce-1") -> Push:
        body = self.sealed(payload)
        return Push(body, self.sign(body, ts, nonce))

    @staticmethod
    def sign_legacy(body: bytes, ts: str | int = NOW, nonce: str = "nonce-1", token: str = TOKEN) -> dict[str, str]:
        ts = str(ts)
        return {"X-Lark-Request-Timestamp": ts, "X-Lark-Request-Nonce": nonce,
                "X-Lark-Signature": legacy_signature(ts, nonce, token, body)}

    @staticmethod
    def card_payload(update_token: str = "c-update-token") -> dict:
        return {"open_id": "ou_manager", "user_id": "u_manager", "tenant_key": "tenant_sandbox",
                "open_message_id": "om_1", "open_chat_id": "oc_p2p_manager", "token": update_token,
                "action": {"tag": "button", "value": {"action": "approve", "approval_id": "1"}}}


@pytest.fixture(scope="session")
def feishu() -> Feishu:
    return Feishu()
