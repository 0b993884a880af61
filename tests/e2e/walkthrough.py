"""The walkthrough's shared steps: who is who and which approval to use, found through the playground's own API
(roles from `world`, fresh submissions through `submit`, the approver as the one whose chat the bot wrote to),
never through sample ids that the sandbox's data may rename; and what a reader in one locale sees of a card."""

from __future__ import annotations

import re
import time
from typing import Any

import cards
from tests.cardwalk import read
from tests.e2e.playground_client import PlaygroundClient, action_of, button_paths

LOCALES = ("zh_cn", "en_us")
WAIT_S = 8.0
CJK = re.compile(r"[\u4e00-\u9fff]")
# Catalogue texts a card shows whatever it is about: one locale's must never appear to the other's reader.
LABEL_KEYS = ("label.requester", "label.submitted", "label.type", "label.status", "label.timeline",
              "button.approve", "button.reject", "status.PENDING", "status.APPROVED", "status.REJECTED")
RAW_ID = re.compile(r"\b(ou|on|od)[_\-][0-9a-z]{3,}", re.IGNORECASE)


def user_with_role(client: PlaygroundClient, role: str) -> dict[str, Any]:
    """The sample user whose role (as the playground's `world` names it) is `role`."""
    users = client.get("world")[1]["users"]
    found = [u for u in users if str(u.get("role", "")).lower() == role.lower()]
    assert found, f"no sample user with the role {role!r} in {[u.get('role') for u in users]}"
    return found[0]


def chat_of(user: dict[str, Any]) -> str:
    return "oc_p2p_" + user["open_id"].removeprefix("ou_")


def submission(client: PlaygroundClient, definition: str, requester: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A new submission of `definition` by `requester`; (its instance code, the user it waits for), that user
    found as the one the bot sent the new approval's card to."""
    status, answer = client.post("submit", {"definition": definition, "requester": requester["key"]})
    assert status == 200, answer
    code = answer["instance_code"]
    users = client.get("world")[1]["users"]
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for user in users:
            for message in client.messages(chat_of(user))["messages"]:
                if message["from_bot"] and code in _values(message["content"]):
                    return code, user
        time.sleep(0.05)
    raise AssertionError(f"no approver was sent the card of {code}")


def _values(card: Any) -> str:
    return " ".join(str(v.get("approval_id")) for _, b in button_paths(card) for v in _callbacks(b))


def _callbacks(button: dict[str, Any]) -> list[dict[str, Any]]:
    return [b["value"] for b in button.get("behaviors") or () if b.get("type") == "callback"]


def other(locale: str) -> str:
    return "en_us" if locale == "zh_cn" else "zh_cn"


def assert_one_language(card: Any, locale: str) -> None:
    """The reader's labels, none of the other locale's."""
    text = read(card, locale)
    for key in LABEL_KEYS:
        theirs = cards.text(key, other(locale))
        if theirs != cards.text(key, locale) and len(theirs) > 1:
            assert theirs not in text.replace(cards.text(key, locale), ""), (key, theirs, locale)


def assert_no_raw_ids(card: Any, locale: str) -> None:
    text = read(card, locale).replace("\\_", "_")
    assert not RAW_ID.search(text), RAW_ID.search(text)


def actions(card: Any) -> list[str]:
    return [a for a in (action_of(b) for _, b in button_paths(card)) if a]


def name_of(user: dict[str, Any], locale: str) -> str:
    return user["en_name"] if locale == "en_us" else user["name"]
