"""The registry: one line per event type, command and card button (the table is `handlers/__init__.py`).

A registration carries everything about its entry: a command's aliases, how many arguments it takes and its
texts; a button's label. `build_registry` refuses at start-up what would break at run time: a name registered
twice, an alias that shadows another command, a text missing from any locale.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from cards.environment import LOCALES, catalogue
from core.outcome import Reply

Handler = Callable[..., Reply | None]  # (Context, the inbound value or call) -> what to say


class RegistryError(ValueError):
    """A registration that cannot work; the message is one line naming it."""


@dataclass(frozen=True)
class Command:
    name: str
    handler: Handler
    aliases: tuple[str, ...] = ()
    min_args: int = 0
    max_args: int | None = 0  # None: any number

    @property
    def usage_key(self) -> str:
        return f"command.{self.name}.usage"

    @property
    def summary_key(self) -> str:
        return f"command.{self.name}.summary"

    @property
    def text_keys(self) -> tuple[str, ...]:
        return self.usage_key, self.summary_key

    def accepts(self, count: int) -> bool:
        return count >= self.min_args and (self.max_args is None or count <= self.max_args)


@dataclass(frozen=True)
class Button:
    name: str  # the `action` of the button's callback value
    handler: Handler
    label_key: str = ""

    @property
    def text_keys(self) -> tuple[str, ...]:
        return (self.label_key,) if self.label_key else ()


@dataclass(frozen=True)
class EventRoute:
    event_type: str
    handler: Handler
    kind: str  # message (the reply is sent as a message) | callback (the reply is the answer) | event


@dataclass(frozen=True)
class Registry:
    events: Mapping[str, EventRoute]
    commands: Mapping[str, Command]
    buttons: Mapping[str, Button]
    words: Mapping[str, str]  # every name and alias, normalised -> the command's name

    def command_for(self, word: str) -> Command | None:
        name = self.words.get(word)
        return self.commands[name] if name is not None else None


def command(name: str, handler: Handler, *, aliases: Iterable[str] = (), args: tuple[int, int | None] = (0, 0),
            ) -> Command:
    return Command(name, handler, tuple(aliases), args[0], args[1])


def button(name: str, handler: Handler, *, label: str = "") -> Button:
    return Button(name, handler, label)


def event(event_type: str, handler: Handler, *, kind: str = "event") -> EventRoute:
    return EventRoute(event_type, handler, kind)


def _word(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def _unique(kind: str, names: Iterable[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise RegistryError(f"{kind} {name!r} is registered twice")
        seen.add(name)


def _check_texts(entries: Iterable[Command | Button], locales: Iterable[str],
                 has_text: Callable[[str, str], bool]) -> None:
    for locale in locales:
        for entry in entries:
            for key in entry.text_keys:
                if not has_text(key, locale):
                    raise RegistryError(f"{entry.name!r} needs the text {key!r} in cards/locales/{locale}.toml")


def _has_text(key: str, locale: str) -> bool:
    return key in catalogue(locale)


def build_registry(
    events: Iterable[EventRoute],
    commands: Iterable[Command],
    buttons: Iterable[Button],
    *,
    locales: Iterable[str] = LOCALES,
    has_text: Callable[[str, str], bool] = _has_text,
) -> Registry:
    events, commands, buttons = tuple(events), tuple(commands), tuple(buttons)
    _unique("event type", (e.event_type for e in events))
    _unique("command", (c.name for c in commands))
    _unique("button", (b.name for b in buttons))
    words: dict[str, str] = {}
    for cmd in commands:
        for word in map(_word, (cmd.name, *cmd.aliases)):
            if words.setdefault(word, cmd.name) != cmd.name:
                raise RegistryError(f"the word {word!r} names both {words[word]!r} and {cmd.name!r}")
    for route in events:
        if route.kind not in ("message", "callback", "event"):
            raise RegistryError(f"event {route.event_type!r} has an unknown kind {route.kind!r}")
    _check_texts((*commands, *buttons), tuple(locales), has_text)
    freeze: Callable[[dict[str, Any]], Mapping[str, Any]] = MappingProxyType
    return Registry(
        events=freeze({e.event_type: e for e in events}),
        commands=freeze({c.name: c for c in commands}),
        buttons=freeze({b.name: b for b in buttons}),
        words=freeze(words),
    )
