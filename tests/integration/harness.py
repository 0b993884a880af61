"""A running bot (real Flask app, real lark-oapi client) against the sandbox, and a manager to drive it."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from bot.app import create_app
from bot.config import Config, load_config
from sandbox.sender import EventSender, SentEvent
from sandbox.server import ServerThread
from sandbox.testing import Sandbox
from tests import cardwalk

ENCRYPT_KEY = "integration-encrypt-key"
TOKEN = "integration-verification-token"
WAIT_S = 8.0


def bot_config(sandbox: Sandbox, tmp_path, **extra: str) -> Config:
    env = {
        "FEISHU_APP_ID": sandbox.app_id,
        "FEISHU_APP_SECRET": sandbox.app_secret,
        "FEISHU_VERIFICATION_TOKEN": TOKEN,
        "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY,
        "FEISHU_BASE_URL": sandbox.url,
        "BOT_ADMINS": "ou_admin",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}",
        "BOT_LOCALE": "en_us",
        **extra,
    }
    return load_config(env)


def find_buttons(card: Any) -> list[dict[str, Any]]:
    """Every callback button value in a card, in order."""
    return cardwalk.callback_values(card)


def wait_until(predicate: Any, timeout: float = 10.0) -> bool:
    """Poll for something the bot does in the background (bounded)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def card_text(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False)


class Settled:
    """Deliveries the bot has completely handled (handlers/pipeline.py tells), so that a test can await one
    instead of waiting out a silence."""

    def __init__(self) -> None:
        self._done: dict[str, str] = {}
        self._changed = threading.Condition()

    def __call__(self, event_id: str, outcome: str) -> None:
        with self._changed:
            self._done[event_id] = outcome
            self._changed.notify_all()

    def wait(self, event_id: str, timeout: float = WAIT_S) -> str:
        with self._changed:
            assert self._changed.wait_for(lambda: event_id in self._done, timeout), f"{event_id} never settled"
            return self._done[event_id]


@dataclass
class Bot:
    sandbox: Sandbox
    server: ServerThread
    sender: EventSender
    app: Any
    config: Config
    settled: Settled
    sent: list[SentEvent] = field(default_factory=list)

    @property
    def store(self) -> Any:
        return self.app.extensions["approval_bot"].ctx.store

    def say(self, user: str, text: str, *, chat: str = "p2p", mention: bool = False) -> dict[str, Any] | None:
        """Send a message; return the bot's reply message (with its card), or None if it stayed silent."""
        sent = self.sender.message(user, text, chat=chat, mention_bot=mention)
        assert sent.status == 200, (sent.status, sent.text)
        self.settled.wait(sent.event_id)
        return self.reply_to(sent.message_id, wait_s=0)

    def reply_to(self, message_id: str, wait_s: float = WAIT_S) -> dict[str, Any] | None:
        deadline = time.monotonic() + wait_s
        while True:
            for message in self.sandbox.messages():
                if message.get("parent_id") == message_id:
                    return message
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.02)

    def click(self, user: str, message: dict[str, Any], action: str, *, reason: str = "",
              **match: Any) -> SentEvent:
        """Click the button `action` on the message's current card (its value comes from the real card)."""
        current = self.sandbox.state.message(message["message_id"])
        values = [v for v in find_buttons(current["content"]) if v.get("action") == action
                  and all(v.get(k) == m for k, m in match.items())]
        assert values, f"no {action} button on the card"
        form = {"reason": reason} if reason else None
        return self.sender.click(user, values[0], message_id=message["message_id"], chat_id=message["chat_id"],
                                 form_value=form)

    def card(self, message: dict[str, Any]) -> dict[str, Any]:
        return self.sandbox.state.message(message["message_id"])["content"]


def start_bot(sandbox: Sandbox, tmp_path, **extra: str) -> Bot:
    config = bot_config(sandbox, tmp_path, **extra)
    settled = Settled()
    app = create_app(config, on_settled=settled)
    server = ServerThread(app).start()
    sender = sandbox.sender(server.url, encrypt_key=config.encrypt_key.reveal(),
                            verification_token=config.verification_token.reveal())
    return Bot(sandbox, server, sender, app, config, settled)
