"""The one walk over card JSON that tests use: every object with its path, in document order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def nodes(card: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], dict[str, Any]]]:
    """(path, object) for every JSON object in `card`, the card itself first."""
    if isinstance(card, dict):
        yield path, card
        for key, value in card.items():
            yield from nodes(value, (*path, key))
    elif isinstance(card, list):
        for index, value in enumerate(card):
            yield from nodes(value, (*path, index))


def reader_view(card: Any, locale: str) -> Any:
    """What a Feishu client in `locale` shows: ``i18n_content[locale]`` where a text has one, else ``content``;
    the header's ``i18n_text_tag_list`` wins over ``text_tag_list`` (card-json-v2-structure)."""
    if isinstance(card, dict):
        skip = ("i18n_content", "locales", "i18n_text_tag_list")
        out = {k: reader_view(v, locale) for k, v in card.items() if k not in skip}
        if "i18n_content" in card:
            out["content"] = card["i18n_content"][locale]
        if "i18n_text_tag_list" in card:
            out["text_tag_list"] = reader_view(card["i18n_text_tag_list"][locale], locale)
        return out
    if isinstance(card, list):
        return [reader_view(v, locale) for v in card]
    return card


def texts(card: Any) -> list[str]:
    """Every ``content`` text of the card as it stands, in document order (callback values left out)."""
    return [node["content"] for path, node in nodes(card)
            if isinstance(node.get("content"), str) and "value" not in path]


def read(card: Any, locale: str) -> str:
    """Every text a reader in `locale` reads, in document order, one per line."""
    return "\n".join(texts(reader_view(card, locale)))


def tagged(card: Any, tag: str) -> list[dict[str, Any]]:
    return [node for _, node in nodes(card) if node.get("tag") == tag]


def markdown(card: Any) -> str:
    return "\n".join(node["content"] for node in tagged(card, "markdown"))


def callback_values(card: Any) -> list[dict[str, Any]]:
    """The value of every callback behaviour (the buttons the bot answers), in order."""
    return [node["value"] for _, node in nodes(card) if node.get("type") == "callback" and "value" in node]


def callback_buttons(card: Any) -> list[dict[str, Any]]:
    return [b for b in tagged(card, "button") if any(x.get("type") == "callback" for x in b.get("behaviors") or ())]
