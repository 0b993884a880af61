"""What reaches the bot, as small frozen dataclasses, and the text-command parser. Pure: no I/O.

Mention rules (DESIGN.md): one-to-one chats always; groups only when the bot is @mentioned, and the mention
is stripped. The bot is recognised by its open_id, never by display name.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

from core.rules import Actor


@dataclass(frozen=True)
class Mention:
    key: str
    open_id: str
    name: str = ""
    mentioned_type: str = ""


@dataclass(frozen=True)
class MessageIn:
    event_id: str
    message_id: str
    chat_id: str
    chat_type: str  # p2p | group | topic_group
    message_type: str  # text | post | …
    content: str  # the JSON string Feishu sends
    sender: Actor
    sender_type: str
    mentions: tuple[Mention, ...] = ()
    event_type: str = "im.message.receive_v1"


@dataclass(frozen=True)
class CardClick:
    event_id: str  # event_id, or the legacy replay key
    operator: Actor
    value: Mapping[str, Any]
    form_value: Mapping[str, Any]
    message_id: str
    chat_id: str
    token: str = field(repr=False)  # the delayed-update credential: a secret, never logged
    legacy: bool = False  # the message-card callback of /webhook/card: answered with the card itself

    @property
    def event_type(self) -> str:
        return "card.action.trigger_v1" if self.legacy else "card.action.trigger"


@dataclass(frozen=True)
class ApprovalEvent:
    """An approval that changed in Feishu: `approval_instance` (v1) or `approval.instance.status_changed_v4`, or
    one of its tasks (`approval_task`: then `task_id` and the assignee's ids are set)."""

    event_id: str
    event_type: str
    instance_code: str
    status: str = ""
    approval_code: str = ""
    task_id: str = ""
    open_id: str = ""
    user_id: str = ""


@dataclass(frozen=True)
class OtherEvent:
    """A verified event of a type the bot does not read (it is acknowledged and counted, never acted on)."""

    event_id: str
    event_type: str


@dataclass(frozen=True)
class Unreadable:
    """A verified event or callback whose content cannot be read: retrying would not help."""

    event_id: str
    event_type: str
    callback: bool = False


Inbound = MessageIn | CardClick | ApprovalEvent | OtherEvent | Unreadable


@dataclass(frozen=True)
class CommandLine:
    word: str  # the command word, normalised (NFKC, case-folded): "approve", "通过", or an unknown word
    args: tuple[str, ...]


# Attendance ids are digits; instance codes are UUID-like. Anything else is refused before a call.
APPROVAL_ID = re.compile(r"[0-9A-Za-z][0-9A-Za-z\-]{0,63}")
_SLASHES = ("/", "／")
_MAX_TEXT = 4000


def message_text(content: str, message_type: str) -> str | None:
    """The plain text of a text or post message; None for other kinds."""
    try:
        data = json.loads(content)
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(data, dict):
        return None
    if message_type == "text":
        text = data.get("text")
        return text if isinstance(text, str) else None
    if message_type == "post":
        return _post_text(data)
    return None


def _post_text(data: Mapping[str, Any]) -> str | None:
    body = data
    if "content" not in body:  # {"zh_cn": {"title", "content"}} form
        body = next((v for v in data.values() if isinstance(v, Mapping) and "content" in v), {})
    lines = body.get("content")
    if not isinstance(lines, list):
        return None
    out = []
    for line in lines:
        if not isinstance(line, list):
            continue
        parts = []
        for item in line:
            if not isinstance(item, Mapping):
                continue
            if item.get("tag") == "text" and isinstance(item.get("text"), str):
                parts.append(item["text"])
            elif item.get("tag") == "at":
                parts.append(str(item.get("user_id") or ""))
        out.append("".join(parts))
    return "\n".join(out)


def bot_mentions(message: MessageIn, bot_open_id: str) -> tuple[Mention, ...]:
    if bot_open_id:
        return tuple(m for m in message.mentions if m.open_id == bot_open_id)
    # Without the bot's id (bot info unreachable), trust only Feishu's own marker.
    return tuple(m for m in message.mentions if m.mentioned_type == "bot")


def mentions_nobody_in_group(message: MessageIn) -> bool:
    """A group message with no @mention at all: the bot stays silent on it whatever it says, so neither its
    content nor the bot's own open_id needs reading."""
    return message.chat_type != "p2p" and not message.mentions


def command_text(message: MessageIn, bot_open_id: str | Callable[[], str]) -> str | None:
    """The text the bot should act on, or None when it must stay silent (group without mention, not text).

    `bot_open_id` may be a function (the gateway's, which asks Feishu the first time): it is called only for a
    message that mentions someone, since one that mentions nobody cannot mention the bot."""
    if mentions_nobody_in_group(message):
        return None
    text = message_text(message.content, message.message_type)
    if text is None:
        return None if message.chat_type != "p2p" else ""
    if not message.mentions:
        mine: tuple[Mention, ...] = ()
    else:
        mine = bot_mentions(message, bot_open_id() if callable(bot_open_id) else bot_open_id)
    if message.chat_type != "p2p" and not mine:
        return None
    for mention in mine:
        if mention.key:
            text = re.sub(re.escape(mention.key) + r"(?![0-9])", " ", text)
    return text[:_MAX_TEXT].strip()


def split_command(text: str) -> CommandLine | None:
    """`/approve 123` → CommandLine("approve", ("123",)); None when the text is not a command at all.

    The registry (handlers/registry.py) knows which words are commands and which are aliases."""
    text = (text or "").strip()
    if not text.startswith(_SLASHES):
        return None
    words = text[1:].split()  # str.split() also splits on the full-width space U+3000
    if not words:
        return CommandLine("", ())
    return CommandLine(unicodedata.normalize("NFKC", words[0]).casefold()[:32], tuple(words[1:]))


def valid_approval_id(value: str) -> bool:
    return bool(APPROVAL_ID.fullmatch(value or ""))


# A pasted Feishu approval link names its instance in the query (`instance_code=`, `instanceCode=`), or, in
# the applinks `tasks/query` returns, in the query of the mini-program path it carries
# (`…&path=pages/detail/index?instanceId=<code>`), percent-encoded or not.
_LINK_START = re.compile(r"https?://", re.IGNORECASE)
_LINK_PARAM = re.compile(r"[?&#;](?:instance_?code|instance_?id)=([0-9A-Za-z\-]{1,64})(?![0-9A-Za-z\-])",
                         re.IGNORECASE)
_UUID = re.compile(r"[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}")
MIN_LATER_ID = 6  # after the first, a word is an id only when it is long enough not to be a comment's word


def instance_code_in_link(text: str) -> str | None:
    """The instance code a pasted Feishu approval link names, or None when `text` is no such link."""
    text = (text or "").strip().strip("<>")
    if not _LINK_START.match(text) or len(text) > 2000:
        return None
    for _ in range(3):  # nested paths are encoded once per level
        found = _LINK_PARAM.search(text)
        if found:
            return found.group(1)
        decoded = unquote(text)
        if decoded == text:
            break
        text = decoded
    path_code = _UUID.search(urlsplit(text).path)
    return path_code.group(0) if path_code else None


def approval_ref(word: str) -> str:
    """What a command word names: the instance code of a pasted link, or the word itself (an instance code,
    an attendance id or a serial number; the handlers resolve serials through the store)."""
    return instance_code_in_link(word) or word


def looks_like_id(word: str) -> bool:
    """A link, or a long word of letters, digits and dashes with a digit in it (ids and serials always have)."""
    if instance_code_in_link(word):
        return True
    return len(word) >= MIN_LATER_ID and valid_approval_id(word) and any(c.isdigit() for c in word)


def split_ids(words: Sequence[str]) -> tuple[tuple[str, ...], str]:
    """`/approve <id>… [comment…]`: the first word is an id (checked later), then every word that looks like one;
    the first that does not starts the comment. Ids come back as `approval_ref` reads them."""
    if not words:
        return (), ""
    count = 1
    while count < len(words) and looks_like_id(words[count]):
        count += 1
    return tuple(approval_ref(w) for w in words[:count]), " ".join(words[count:])
