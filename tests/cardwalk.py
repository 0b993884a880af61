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


def tagged(card: Any, tag: str) -> list[dict[str, Any]]:
    return [node for _, node in nodes(card) if node.get("tag") == tag]


def markdown(card: Any) -> str:
    return "\n".join(node["content"] for node in tagged(card, "markdown"))


def callback_values(card: Any) -> list[dict[str, Any]]:
    """The value of every callback behaviour (the buttons the bot answers), in order."""
    return [node["value"] for _, node in nodes(card) if node.get("type") == "callback" and "value" in node]


def callback_buttons(card: Any) -> list[dict[str, Any]]:
    return [b for b in tagged(card, "button") if any(x.get("type") == "callback" for x in b.get("behaviors") or ())]
