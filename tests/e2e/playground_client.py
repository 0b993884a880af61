"""The playground's JSON endpoints, driven with Flask's test client the way the page drives them."""

from __future__ import annotations

import json
import time
from typing import Any

from sandbox.demo import Demo
from tests import cardwalk

WAIT_S = 8.0


def button_paths(card: Any) -> list[tuple[list[Any], dict[str, Any]]]:
    """Every button in a card with its path (the keys and indexes the page sends), in document order."""
    return [(list(path), node) for path, node in cardwalk.nodes(card) if node.get("tag") == "button"]


def action_of(button: dict[str, Any]) -> str | None:
    for behavior in button.get("behaviors") or ():
        if behavior.get("type") == "callback":
            return behavior["value"].get("action")
    return None


def button_path(card: Any, action: str) -> list[Any]:
    paths = [p for p, b in button_paths(card) if action_of(b) == action]
    assert paths, f"no {action} button on the card"
    return paths[0]


def card_text(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False)


class PlaygroundClient:
    def __init__(self, demo: Demo) -> None:
        self.demo = demo
        self.http = demo.sandbox.app.test_client()

    def get(self, path: str) -> Any:
        response = self.http.get("/_playground/api/" + path)
        return response.status_code, response.get_json()

    def post(self, path: str, body: Any) -> Any:
        response = self.http.post("/_playground/api/" + path, json=body)
        return response.status_code, response.get_json()

    def send(self, user: str, text: str, chat: str = "p2p", mention_bot: bool = True) -> dict[str, Any]:
        status, answer = self.post("send", {"user": user, "chat": chat, "text": text, "mention_bot": mention_bot})
        assert status == 200 and answer["status"] == 200, answer
        return answer

    def messages(self, chat_id: str, since: int = 0) -> dict[str, Any]:
        status, answer = self.get(f"messages?chat={chat_id}&since={since}")
        assert status == 200, answer
        return answer

    def reply_to(self, chat_id: str, message_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for message in self.messages(chat_id)["messages"]:
                if message["parent_id"] == message_id and message["from_bot"]:
                    return message
            time.sleep(0.02)
        raise AssertionError(f"the bot did not reply to {message_id}")

    def ask(self, user: str, text: str, chat: str = "p2p") -> dict[str, Any]:
        """Send a message and return the bot's reply as the page sees it."""
        sent = self.send(user, text, chat=chat)
        chat_id = "oc_group_team" if chat == "group" else f"oc_p2p_{user}"
        return self.reply_to(chat_id, sent["message_id"])

    def click(self, user: str, message: dict[str, Any], action: str, **extra: Any) -> dict[str, Any]:
        body = {"user": user, "message_id": message["message_id"], "version": message["version"],
                "path": button_path(message["content"], action), **extra}
        status, answer = self.post("click", body)
        assert status == 200, answer
        return answer

    def wait_version(self, message: dict[str, Any], version: int, wait_s: float = WAIT_S) -> dict[str, Any]:
        """The message once it reached `version` (updated in place: same id), via the page's `since` polling."""
        since = 0
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            answer = self.messages(message["chat_id"], since)
            for found in answer["messages"]:
                if found["message_id"] == message["message_id"] and found["version"] >= version:
                    return found
            since = answer["cursor"]
            time.sleep(0.02)
        raise AssertionError(f"message {message['message_id']} never reached version {version}")
