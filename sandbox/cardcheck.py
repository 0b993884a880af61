"""What Feishu checks in message content and cards before accepting them (feishu-protocol.md §4, §5, §11.4-11.5).

- `content` is a JSON *string*; text ≤ 150 KB, cards and rich text ≤ 30 KB (230025).
- JSON 2.0 cards (`"schema": "2.0"`): only `schema`, `config`, `card_link`, `header`, `body` at the top (2.0 rejects
  unknown properties), elements under `body.elements`, no 1.0 `action` / `note` blocks, at most 200 components,
  always shared (`update_multi` may not be false), `header.title` required when there is a header.
- JSON 1.0 cards: `elements` or `i18n_elements`; to be updated for everyone they must be shared
  (`config.update_multi: true`) before and after an update.
- A 2.0 card cannot be replaced by a 1.0 card (card error 200830).
- Template cards (`{"type": "template", "data": {"template_id": …}}`) are accepted as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

MAX_CARD_BYTES = 30 * 1024
MAX_TEXT_BYTES = 150 * 1024
MAX_ELEMENTS = 200
CARD2_TOP_LEVEL = frozenset({"schema", "config", "card_link", "header", "body"})
CARD2_FORBIDDEN_TAGS = frozenset({"action", "note"})
MSG_TYPES = frozenset({"text", "post", "image", "file", "audio", "media", "sticker", "interactive",
                       "share_chat", "share_user", "system"})


class ContentError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _card_error(reason: str) -> ContentError:
    return ContentError(230099, f"Failed to create card content, ext={reason}")


def _invalid(reason: str) -> ContentError:
    return ContentError(230001, f"Your request contains an invalid request parameter, ext={reason}")


def size_of(card: Any) -> int:
    return len(json.dumps(card, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def parse_content(msg_type: str, content: str) -> Any:
    """The decoded `content` of a send/reply/patch, checked for its message type."""
    if msg_type not in MSG_TYPES:
        raise _invalid(f"unsupported msg_type {msg_type!r}")
    limit = MAX_TEXT_BYTES if msg_type == "text" else MAX_CARD_BYTES
    if len(content.encode("utf-8")) > limit:
        raise ContentError(230025, f"The length of the message content reaches its limit, "
                                   f"ext={msg_type} content is {len(content.encode('utf-8'))} bytes, limit {limit}")
    try:
        decoded = json.loads(content)
    except ValueError:
        raise _invalid("content is not a JSON string") from None
    if not isinstance(decoded, dict):
        raise _invalid("content must be a JSON object")
    if msg_type == "text" and not isinstance(decoded.get("text"), str):
        raise _invalid("text content needs a string `text`")
    if msg_type == "interactive":
        check_card(decoded)
    return decoded


def card_schema(card: Mapping[str, Any]) -> str:
    if card.get("type") == "template":
        return "template"
    return "2.0" if str(card.get("schema", "")) == "2.0" else "1.0"


def check_card(card: Any) -> None:
    if not isinstance(card, dict):
        raise _card_error("the card must be a JSON object")
    schema = card_schema(card)
    if schema == "template":
        template = card.get("data")
        if not isinstance(template, dict) or not template.get("template_id"):
            raise _card_error("template cards need data.template_id")
        return
    if schema == "2.0":
        _check_card2(card)
    elif not isinstance(card.get("elements", card.get("i18n_elements")), list | dict):
        raise _card_error("a JSON 1.0 card needs `elements` or `i18n_elements`")
    if size_of(card) > MAX_CARD_BYTES:
        raise ContentError(230025, f"The length of the message content reaches its limit, ext=card is "
                                   f"{size_of(card)} bytes, limit {MAX_CARD_BYTES}")


def _check_card2(card: Mapping[str, Any]) -> None:
    unknown = sorted(set(card) - CARD2_TOP_LEVEL)
    if unknown:
        raise _card_error(f"ErrMsg: unknown property {unknown[0]!r} in a JSON 2.0 card")
    config = card.get("config") or {}
    if isinstance(config, dict) and config.get("update_multi") is False:
        raise _card_error("ErrMsg: JSON 2.0 cards are always shared; update_multi may not be false")
    header = card.get("header")
    if header is not None and (not isinstance(header, dict) or not header.get("title")):
        raise _card_error("ErrMsg: header.title is required when a header is present")
    body = card.get("body")
    if not isinstance(body, dict) or not isinstance(body.get("elements"), list):
        raise _card_error("ErrMsg: a JSON 2.0 card needs body.elements")
    count = _count_components(body["elements"])
    if count > MAX_ELEMENTS:
        raise _card_error(f"ErrCode: 300305; ErrMsg: {count} components, a card holds at most {MAX_ELEMENTS}")


def _count_components(node: Any) -> int:
    """Components with a `tag`, nested ones included; 1.0-only tags are refused on the way."""
    if isinstance(node, list):
        return sum(_count_components(n) for n in node)
    if not isinstance(node, dict):
        return 0
    own = 0
    if "tag" in node and isinstance(node["tag"], str):
        if node["tag"] in CARD2_FORBIDDEN_TAGS:
            raise _card_error(f"ErrMsg: tag {node['tag']!r} does not exist in JSON 2.0 cards")
        own = 1 if node["tag"] not in ("plain_text", "lark_md") else 0
    return own + sum(_count_components(v) for k, v in node.items() if k not in ("behaviors", "value", "i18n_content"))


def check_replacement(old: Any, new: Any, *, require_shared: bool) -> None:
    """May the card `old` be replaced by `new` (PATCH, delayed update, callback answer)?"""
    if not isinstance(old, dict) or not isinstance(new, dict):
        return
    old_schema, new_schema = card_schema(old), card_schema(new)
    if old_schema == "2.0" and new_schema == "1.0":
        raise _card_error("ErrCode: 200830; ErrMsg: a JSON 2.0 card cannot be updated to a JSON 1.0 card")
    if require_shared:
        for label, card in (("sent", old), ("new", new)):
            if card_schema(card) == "1.0" and not (card.get("config") or {}).get("update_multi"):
                raise _card_error(f"ErrMsg: the {label} JSON 1.0 card is not shared: declare config.update_multi "
                                  f"true before and after the update")
