"""The registry (one line per event, command and button) and what handlers receive and return.

Handlers return data (`Reply`); turning it into an HTTP body or a reply message happens in one place
(`bot/webhook.py` for callbacks, `handlers/events.py` for messages).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.inbound import COMMANDS, CardClick, MessageIn
from bot.rules import Actor

if TYPE_CHECKING:  # the gateway imports lark_oapi: keep it out of the pure tier's imports
    from bot.config import Config
    from bot.feishu import FeishuGateway
    from bot.store import Store


@dataclass(frozen=True)
class Toast:
    kind: str  # success | info | warning | error
    text: str


@dataclass(frozen=True)
class Reply:
    card: Mapping[str, Any] | None = None
    toast: Toast | None = None
    approval_id: str = ""  # the approval the card shows, so later updates reach it


@dataclass(frozen=True)
class Context:
    config: Config
    feishu: FeishuGateway
    store: Store
    pool: ThreadPoolExecutor
    clock: Callable[[], float]
    registry: Registry

    @property
    def locale(self) -> str:
        return self.config.locale

    @property
    def admins(self) -> frozenset[str]:
        return self.config.admins


@dataclass(frozen=True)
class CommandCall:
    name: str
    args: tuple[str, ...]
    actor: Actor
    message: MessageIn


@dataclass(frozen=True)
class ClickCall:
    click: CardClick
    actor: Actor

    @property
    def value(self) -> Mapping[str, Any]:
        return self.click.value


CommandHandler = Callable[[Context, CommandCall], Reply]
ActionHandler = Callable[[Context, ClickCall], Reply]
EventHandler = Callable[..., Any]


@dataclass(frozen=True)
class Command:
    name: str
    handler: CommandHandler
    aliases: tuple[str, ...] = ()

    @property
    def usage_key(self) -> str:
        return f"command.{self.name}.usage"

    @property
    def summary_key(self) -> str:
        return f"command.{self.name}.summary"


@dataclass(frozen=True)
class EventRoute:
    handler: EventHandler
    # Claim the event id before handling (replays and re-deliveries then do nothing). Off for handlers that
    # dedup on a key of their own, and only when they act: most messages a bot sees need no write at all.
    dedup: bool = True


@dataclass(frozen=True)
class Registry:
    events: Mapping[str, EventRoute] = field(default_factory=dict)
    commands: Mapping[str, Command] = field(default_factory=dict)
    actions: Mapping[str, ActionHandler] = field(default_factory=dict)

    def command(self, name: str) -> Command | None:
        return self.commands.get(name)


def event(event_type: str, handler: EventHandler, *, dedup: bool = True) -> tuple[str, EventRoute]:
    return event_type, EventRoute(handler, dedup)


def command(name: str, handler: CommandHandler) -> Command:
    return Command(name, handler, COMMANDS.get(name, ()))


def action(name: str, handler: ActionHandler) -> tuple[str, ActionHandler]:
    return name, handler


def build_registry(
    events: Iterable[tuple[str, EventRoute]],
    commands: Iterable[Command],
    actions: Iterable[tuple[str, ActionHandler]],
) -> Registry:
    """Refuse duplicate or unknown registrations at start-up, not at first use."""
    event_map: dict[str, EventRoute] = {}
    for name, route in events:
        if name in event_map:
            raise ValueError(f"event {name} registered twice")
        event_map[name] = route
    command_map: dict[str, Command] = {}
    for cmd in commands:
        if cmd.name in command_map:
            raise ValueError(f"command {cmd.name} registered twice")
        if cmd.name not in COMMANDS:
            raise ValueError(f"command {cmd.name} has no entry in bot.inbound.COMMANDS")
        command_map[cmd.name] = cmd
    action_map: dict[str, ActionHandler] = {}
    for name, handler in actions:
        if name in action_map:
            raise ValueError(f"action {name} registered twice")
        action_map[name] = handler
    return Registry(event_map, command_map, action_map)
