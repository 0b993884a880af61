"""The Feishu side of the webhook: builds the events and callbacks Feishu pushes to a bot, encrypts and signs
them exactly as Feishu does (sandbox.crypto), and POSTs them with `requests`.

Layers, so tests can tamper at any point:
- `*_payload(...)` -> the plaintext dict;
- `seal(payload)` / `seal_legacy(payload)` -> (headers, body bytes), freshly encrypted and signed;
- `build_*(...)` = payload + seal; `post(headers, body, path)` sends; the plain verbs (`message`, `click`, …) do all.
Every attempt is re-signed (a fresh timestamp, nonce and IV), including `resend` (Feishu's re-delivery).

Given a `SandboxState`, the sender records user messages there (so the bot can reply to their ids), issues and
registers card callback tokens, and applies the card a callback answer returns to the clicked message.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid as uuidlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import requests

from sandbox import cardcheck, crypto, data
from sandbox.state import SandboxState

CALLBACK_DEADLINE_S = 3.0  # Feishu shows an error to the user when the bot answers later than this
USER_AGENT = "Lark-Sandbox-Event-Sender/1.0"


@dataclass
class SentEvent:
    status: int  # the bot's HTTP status; 0 when it did not answer (connection error, timeout)
    json: Any
    text: str
    event_id: str
    message_id: str = ""
    token: str = field(default="", repr=False)  # the card callback token (a secret)
    payload: dict[str, Any] = field(default_factory=dict, repr=False)
    headers: dict[str, str] = field(default_factory=dict, repr=False)  # the bot's response headers
    request_headers: dict[str, str] = field(default_factory=dict, repr=False)
    request_body: bytes = field(default=b"", repr=False)
    elapsed_s: float = 0.0
    error: str = ""
    card_error: str = ""  # why Feishu would refuse the card the callback answered with
    kind: str = "event"  # event | legacy | url_verification
    path: str = "/webhook/event"

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def late(self) -> bool:
        """Answered after Feishu's 3 s callback budget (or not at all)."""
        return self.status == 0 or self.elapsed_s > CALLBACK_DEADLINE_S

    @property
    def toast(self) -> dict[str, Any] | None:
        found = self.json.get("toast") if isinstance(self.json, dict) else None
        return found if isinstance(found, dict) else None

    @property
    def card(self) -> dict[str, Any] | None:
        """The card a callback answer carries: a raw card's JSON, or `{"type": "template", "data": …}`."""
        found = self.json.get("card") if isinstance(self.json, dict) else None
        if not isinstance(found, dict) or not isinstance(found.get("data"), dict):
            return None
        if found.get("type") == "template":
            return {"type": "template", "data": found["data"]}
        return found["data"]


class EventSender:
    def __init__(self, bot_url: str, *, encrypt_key: str, verification_token: str, app_id: str = data.APP_ID,
                 state: SandboxState | None = None, clock: Callable[[], float] = time.time,
                 tenant_key: str = data.TENANT_KEY, timeout: float = 10.0) -> None:
        self.bot_url = bot_url.rstrip("/")
        self.encrypt_key = encrypt_key
        self.verification_token = verification_token
        self.app_id = app_id
        self.state = state
        self.clock = clock
        self.tenant_key = tenant_key
        self.timeout = timeout

    # -- people and chats ---------------------------------------------------------------------------------------

    def user(self, user: str) -> dict[str, str]:
        """A sample user by name ("manager") or any of its ids; an unknown open_id is taken as an outsider."""
        users = self.state.people if self.state is not None else data.USERS
        found = data.find_user(users, user)
        if found is not None:
            return {"open_id": found["open_id"], "user_id": found["user_id"], "union_id": found["union_id"],
                    "name": found["name"]}
        if user.startswith("ou_"):
            return {"open_id": user, "user_id": "", "union_id": "", "name": user}
        raise ValueError(f"unknown user {user!r}: use a sample name (manager, …) or an open_id")

    def _chat(self, user: dict[str, str], chat: str) -> tuple[str, str]:
        if chat == "p2p":
            name = user["open_id"].removeprefix("ou_")
            return data.p2p_chat(name), "p2p"
        if chat == "group":
            return data.GROUP_CHAT, "group"
        chats = self.state.chats if self.state is not None else data.build_chats()
        return chat, chats.get(chat, {}).get("chat_type", "p2p" if chat.startswith("oc_p2p_") else "group")

    # -- payloads -----------------------------------------------------------------------------------------------

    def _header(self, event_type: str, create_time: str, event_id: str | None) -> dict[str, str]:
        return {"event_id": event_id or uuidlib.uuid4().hex, "token": self.verification_token,
                "create_time": create_time, "event_type": event_type, "tenant_key": self.tenant_key,
                "app_id": self.app_id}

    def _mention(self, key: str, who: Mapping[str, str], kind: str) -> dict[str, Any]:
        return {"key": key, "id": {"union_id": who["union_id"], "user_id": who["user_id"], "open_id": who["open_id"]},
                "name": who["name"], "mentioned_type": kind, "tenant_key": self.tenant_key}

    def message_payload(self, user: str, text: str, *, chat: str = "p2p", mention_bot: bool = False,
                        mention_all: bool = False, mention_users: Iterable[str] = (), message_id: str | None = None,
                        event_id: str | None = None, message_type: str = "text", content: str | None = None,
                        parent_id: str = "", root_id: str = "") -> dict[str, Any]:
        """`im.message.receive_v1`. Mentions appear as `@_user_N` placeholders (the bot first), `@_all` for all."""
        sender = self.user(user)
        chat_id, chat_type = self._chat(sender, chat)
        mentions: list[dict[str, Any]] = []
        prefix: list[str] = []
        if mention_bot:
            bot = {"open_id": data.BOT_OPEN_ID, "user_id": "", "union_id": data.BOT_UNION_ID, "name": data.BOT_NAME}
            mentions.append(self._mention("@_user_1", bot, "bot"))
            prefix.append("@_user_1")
        if mention_all:
            prefix.append("@_all")
        suffix = []
        for other in mention_users:
            key = f"@_user_{len(mentions) + 1}"
            mentions.append(self._mention(key, self.user(other), "user"))
            suffix.append(key)
        full_text = " ".join([*prefix, text, *suffix]).strip()
        now_ms = str(int(self.clock() * 1000))
        message: dict[str, Any] = {
            "message_id": message_id or "om_" + secrets.token_hex(16),
            "root_id": root_id, "parent_id": parent_id, "create_time": now_ms, "update_time": now_ms,
            "chat_id": chat_id, "chat_type": chat_type, "message_type": message_type,
            "content": content if content is not None else json.dumps({"text": full_text}, ensure_ascii=False),
            "user_agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
                          "Chrome/120.0.0.0 Safari/537.36 Lark/7.20.5 LarkLocale/zh_CN",
        }
        if mentions:
            message["mentions"] = mentions
        return {
            "schema": "2.0",
            "header": self._header("im.message.receive_v1", now_ms, event_id),
            "event": {
                "sender": {"sender_id": {k: sender[k] for k in ("union_id", "user_id", "open_id")},
                           "sender_type": "user", "tenant_key": self.tenant_key},
                "message": message,
            },
        }

    def click_payload(self, user: str, value: Mapping[str, Any], *, message_id: str, chat_id: str,
                      form_value: Mapping[str, Any] | None = None, token: str | None = None, tag: str = "button",
                      name: str = "", event_id: str | None = None, input_value: str | None = None,
                      option: str | None = None) -> dict[str, Any]:
        """`card.action.trigger` (schema 2.0 callback); header.create_time in microseconds, as the doc shows."""
        operator = self.user(user)
        action: dict[str, Any] = {"value": dict(value), "tag": tag, "timezone": "Asia/Shanghai"}
        if name:
            action["name"] = name
        if form_value is not None:
            action["form_value"] = dict(form_value)
        if input_value is not None:
            action["input_value"] = input_value
        if option is not None:
            action["option"] = option
        return {
            "schema": "2.0",
            "header": self._header("card.action.trigger", str(int(self.clock() * 1_000_000)), event_id),
            "event": {
                "operator": {"tenant_key": self.tenant_key, "user_id": operator["user_id"],
                             "open_id": operator["open_id"], "union_id": operator["union_id"]},
                "token": token or "c-" + secrets.token_hex(20),
                "action": action,
                "host": "im_message",
                "context": {"open_message_id": message_id, "open_chat_id": chat_id},
            },
        }

    def legacy_click_payload(self, user: str, value: Mapping[str, Any], *, message_id: str, chat_id: str,
                             token: str | None = None, form_value: Mapping[str, Any] | None = None,
                             tag: str = "button") -> dict[str, Any]:
        """The legacy message-card callback: a flat body, no envelope, no event id."""
        operator = self.user(user)
        action: dict[str, Any] = {"value": dict(value), "tag": tag, "timezone": "Asia/Shanghai"}
        if form_value is not None:
            action["form_value"] = dict(form_value)
        return {"open_id": operator["open_id"], "user_id": operator["user_id"], "open_message_id": message_id,
                "open_chat_id": chat_id, "tenant_key": self.tenant_key, "token": token or "c-" + secrets.token_hex(20),
                "action": action}

    def url_verification_payload(self, challenge: str | None = None) -> dict[str, Any]:
        return {"challenge": challenge or str(uuidlib.uuid4()), "token": self.verification_token,
                "type": "url_verification"}

    def approval_instance_payload(self, instance_code: str, status: str, *, approval_code: str | None = None,
                                  operate_time: str | None = None, uuid: str | None = None,
                                  instance_uuid: str | None = None) -> dict[str, Any]:
        """The 1.0 `approval_instance` event (D-aevt): top-level uuid/token/ts, `event.type`."""
        if approval_code is None:
            approval_code = ""
            if self.state is not None:
                found = self.state.instance(instance_code)
                approval_code = found["approval_code"] if found else ""
        now = self.clock()
        at = operate_time or str(int(now * 1000))
        event_uuid = uuid or uuidlib.uuid4().hex
        # the instance event page: a REVERTED push carries operate_time as an int64, every other one a string
        operated: str | int = int(at) if status == "REVERTED" else at
        return {"uuid": event_uuid, "token": self.verification_token, "ts": f"{now:.7f}", "type": "event_callback",
                "event": {"app_id": self.app_id, "tenant_key": self.tenant_key, "type": "approval_instance",
                          "approval_code": approval_code, "instance_code": instance_code, "status": status,
                          "operate_time": operated, "instance_operate_time": at,
                          "uuid": event_uuid[:16] if instance_uuid is None else instance_uuid}}

    def approval_task_payload(self, instance_code: str, task_id: str, status: str, *, approval_code: str,
                              user_id: str = "", open_id: str = "", custom_key: str = "", def_key: str = "",
                              operate_time: str | None = None, uuid: str | None = None) -> dict[str, Any]:
        """The 1.0 `approval_task` event (the task event page): one task's status and its assignee."""
        now = self.clock()
        return {"uuid": uuid or uuidlib.uuid4().hex, "token": self.verification_token, "ts": f"{now:.7f}",
                "type": "event_callback",
                "event": {"app_id": self.app_id, "open_id": open_id, "tenant_key": self.tenant_key,
                          "type": "approval_task", "approval_code": approval_code, "instance_code": instance_code,
                          "task_id": task_id, "user_id": user_id, "status": status,
                          "operate_time": operate_time or str(int(now * 1000)), "custom_key": custom_key,
                          "def_key": def_key, "extra": ""}}

    # -- sealing ------------------------------------------------------------------------------------------------

    def _headers(self) -> tuple[dict[str, str], str, str]:
        timestamp = str(int(self.clock()))
        nonce = secrets.token_hex(8)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT,
                   "X-Request-Id": uuidlib.uuid4().hex, "X-Lark-Request-Timestamp": timestamp,
                   "X-Lark-Request-Nonce": nonce}
        return headers, timestamp, nonce

    def seal(self, payload: Mapping[str, Any], *, encrypt: bool | None = None,
             sign: bool = True) -> tuple[dict[str, str], bytes]:
        """Encrypt (when an encrypt key is set) and sign (SHA-256 over ts+nonce+key+body), as Feishu does.

        Without an encrypt key Feishu sends plaintext with no signature (the token in the body is the only check).
        """
        plaintext = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        encrypt = bool(self.encrypt_key) if encrypt is None else encrypt
        body = (json.dumps({"encrypt": crypto.encrypt(plaintext, self.encrypt_key)}) if encrypt
                else plaintext).encode("utf-8")
        headers, timestamp, nonce = self._headers()
        if sign and self.encrypt_key:
            headers["X-Lark-Signature"] = crypto.signature(timestamp, nonce, self.encrypt_key, body)
        else:
            del headers["X-Lark-Request-Timestamp"], headers["X-Lark-Request-Nonce"]
        return headers, body

    def seal_legacy(self, payload: Mapping[str, Any]) -> tuple[dict[str, str], bytes]:
        """Legacy card callbacks: plaintext, SHA-1 over ts+nonce+verification_token+body."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers, timestamp, nonce = self._headers()
        headers["X-Lark-Signature"] = crypto.legacy_signature(timestamp, nonce, self.verification_token, body)
        return headers, body

    def build_message(self, user: str, text: str, **kwargs: Any) -> tuple[dict[str, str], bytes]:
        return self.seal(self.message_payload(user, text, **kwargs))

    def build_click(self, user: str, value: Mapping[str, Any], **kwargs: Any) -> tuple[dict[str, str], bytes]:
        return self.seal(self.click_payload(user, value, **kwargs))

    def build_legacy_click(self, user: str, value: Mapping[str, Any], **kwargs: Any) -> tuple[dict[str, str], bytes]:
        return self.seal_legacy(self.legacy_click_payload(user, value, **kwargs))

    def build_url_verification(self, encrypted: bool = True, *, challenge: str | None = None,
                               signed: bool = False) -> tuple[dict[str, str], bytes]:
        return self.seal(self.url_verification_payload(challenge), encrypt=encrypted, sign=signed)

    def build_approval_instance(self, instance_code: str, status: str, **kwargs: Any) -> tuple[dict[str, str], bytes]:
        return self.seal(self.approval_instance_payload(instance_code, status, **kwargs))

    # -- sending ------------------------------------------------------------------------------------------------

    def post(self, headers: Mapping[str, str], body: bytes, path: str = "/webhook/event") -> SentEvent:
        """POST as is (no re-signing): the raw layer for tampering tests."""
        started = time.monotonic()
        try:
            response = requests.post(self.bot_url + path, data=body, headers=dict(headers), timeout=self.timeout)
        except requests.RequestException as err:
            return SentEvent(0, None, "", "", request_headers=dict(headers), request_body=body,
                             elapsed_s=time.monotonic() - started, error=repr(err), path=path)
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        return SentEvent(response.status_code, decoded, response.text, "", headers=dict(response.headers),
                         request_headers=dict(headers), request_body=body, elapsed_s=time.monotonic() - started,
                         path=path)

    def _send(self, payload: dict[str, Any], kind: str, path: str, **seal: Any) -> SentEvent:
        headers, body = self.seal_legacy(payload) if kind == "legacy" else self.seal(payload, **seal)
        sent = self.post(headers, body, path)
        sent.payload, sent.kind = payload, kind
        header = payload.get("header") if isinstance(payload.get("header"), dict) else {}
        sent.event_id = header.get("event_id") or payload.get("uuid") or ""
        return sent

    def message(self, user: str, text: str, *, chat: str = "p2p", mention_bot: bool = False,
                path: str = "/webhook/event", **kwargs: Any) -> SentEvent:
        """A user's message to the bot; recorded in the state first so the bot can reply to it."""
        payload = self.message_payload(user, text, chat=chat, mention_bot=mention_bot, **kwargs)
        message = payload["event"]["message"]
        if self.state is not None:
            self.state.record_user_message(payload["event"]["sender"]["sender_id"]["open_id"], message["chat_id"],
                                           "", message_id=message["message_id"], message_type=message["message_type"],
                                           content=message["content"])
        sent = self._send(payload, "event", path)
        sent.message_id = message["message_id"]
        return sent

    def click(self, user: str, value: Mapping[str, Any], *, message_id: str, chat_id: str | None = None,
              form_value: Mapping[str, Any] | None = None, path: str = "/webhook/event", **kwargs: Any) -> SentEvent:
        """A click on a card the bot sent: a fresh callback token, the answer's card applied to the message."""
        chat_id = self._chat_of(message_id, chat_id)
        token = (self.state.issue_card_token(message_id, chat_id, self.user(user)["open_id"])
                 if self.state is not None else None)
        payload = self.click_payload(user, value, message_id=message_id, chat_id=chat_id, form_value=form_value,
                                     token=token, **kwargs)
        sent = self._send(payload, "event", path)
        sent.message_id, sent.token = message_id, payload["event"]["token"]
        self._after_callback(sent, message_id, sent.card)
        return sent

    def legacy_click(self, user: str, value: Mapping[str, Any], *, message_id: str, chat_id: str | None = None,
                     form_value: Mapping[str, Any] | None = None, path: str = "/webhook/card") -> SentEvent:
        """A click delivered through the legacy message-card request URL (answer: the new card itself)."""
        chat_id = self._chat_of(message_id, chat_id)
        token = (self.state.issue_card_token(message_id, chat_id, self.user(user)["open_id"])
                 if self.state is not None else None)
        payload = self.legacy_click_payload(user, value, message_id=message_id, chat_id=chat_id, token=token,
                                            form_value=form_value)
        sent = self._send(payload, "legacy", path)
        sent.message_id, sent.token = message_id, payload["token"]
        answered = sent.json if isinstance(sent.json, dict) else None
        card = answered if answered and any(k in answered for k in ("elements", "schema", "i18n_elements")) else None
        self._after_callback(sent, message_id, card or sent.card)
        return sent

    def url_verification(self, encrypted: bool = True, *, path: str = "/webhook/event",
                         challenge: str | None = None) -> SentEvent:
        return self._send(self.url_verification_payload(challenge), "url_verification", path, encrypt=encrypted,
                          sign=False)

    def approval_instance(self, instance_code: str, status: str, *, approval_code: str | None = None,
                          path: str = "/webhook/event", **kwargs: Any) -> SentEvent:
        payload = self.approval_instance_payload(instance_code, status, approval_code=approval_code, **kwargs)
        return self._send(payload, "event", path)

    def approval_task(self, instance_code: str, task_id: str, status: str, *, approval_code: str,
                      path: str = "/webhook/event", **kwargs: Any) -> SentEvent:
        payload = self.approval_task_payload(instance_code, task_id, status, approval_code=approval_code, **kwargs)
        return self._send(payload, "event", path)

    def resend(self, sent: SentEvent) -> SentEvent:
        """Feishu's re-delivery: the same payload (same event id), freshly encrypted and signed."""
        again = self._send(sent.payload, sent.kind, sent.path,
                           **({"encrypt": None, "sign": False} if sent.kind == "url_verification" else {}))
        again.message_id, again.token = sent.message_id, sent.token
        return again

    # -- callbacks and the state ---------------------------------------------------------------------------------

    def _chat_of(self, message_id: str, chat_id: str | None) -> str:
        if chat_id:
            return chat_id
        found = self.state.message(message_id) if self.state is not None else None
        if found is None:
            raise ValueError(f"chat_id is required: message {message_id!r} is not known to the sandbox")
        return str(found["chat_id"])

    def _after_callback(self, sent: SentEvent, message_id: str, card: Any) -> None:
        """What Feishu does with a callback answer: the token becomes usable, a returned card replaces the card."""
        if self.state is None or not sent.ok:
            return
        self.state.card_token_answered(sent.token)
        if card is None:
            return
        current = self.state.message(message_id)
        if current is None:
            sent.card_error = f"message {message_id} is unknown to the sandbox"
            return
        try:
            cardcheck.check_card(card)
            cardcheck.check_replacement(current["content"], card, require_shared=False)
        except cardcheck.ContentError as err:
            sent.card_error = err.msg
            return
        self.state.update_message(message_id, json.dumps(card, ensure_ascii=False), card, via="callback")
