"""Faults for the in-memory fakes (tests/fakes.py): a store whose chosen methods fail as a broken database does,
and a gateway whose chosen calls fail a number of times before they work."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from core.errors import FeishuError, StoreUnavailable
from tests.fakes import FakeGateway, FakeStore


class BrokenStore(FakeStore):
    """`break_(*methods)` makes those methods raise StoreUnavailable (as bot/store.py does) until `mend()`."""

    def __init__(self) -> None:
        super().__init__()
        self.broken: set[str] = set()
        self.failures: list[str] = []

    def break_(self, *methods: str) -> BrokenStore:
        self.broken.update(methods)
        return self

    def mend(self) -> None:
        self.broken.clear()

    def __getattribute__(self, name: str) -> Any:
        if not name.startswith("_") and name in object.__getattribute__(self, "broken"):
            def fail(*_args: Any, **_kwargs: Any) -> Any:
                object.__getattribute__(self, "failures").append(name)
                raise StoreUnavailable("database file missing")
            return fail
        return object.__getattribute__(self, name)


def down(kind: str = "server") -> FeishuError:
    """What the gateway raises when Feishu answers 503 or does not answer."""
    return FeishuError(-1, "HTTP 503", kind=kind, http_status=503, log_id="log-down")


@dataclass
class FlakyGateway(FakeGateway):
    """`failing[endpoint]` holds the errors the next calls to it raise, one per call ("reply", "send",
    "patch", "card_update"); once used up, the call works."""

    failing: dict[str, list[FeishuError]] = field(default_factory=dict)

    def _fail(self, endpoint: str, target: str) -> None:
        errors = self.failing.get(endpoint)
        if errors:
            self.calls.append((f"{endpoint}_failed", target))
            raise errors.pop(0)

    def send_card(self, receive_id: str, card: Mapping[str, Any], id_type: str = "open_id", uuid: str = "") -> str:
        self._fail("send", receive_id)
        return super().send_card(receive_id, card, id_type, uuid)

    def reply_card(self, message_id: str, card: Mapping[str, Any], uuid: str = "") -> str:
        self._fail("reply", message_id)
        return super().reply_card(message_id, card, uuid)

    def patch_card(self, message_id: str, card: Mapping[str, Any]) -> None:
        self._fail("patch", message_id)
        super().patch_card(message_id, card)

    def delayed_update(self, token: str, card: Mapping[str, Any]) -> None:
        self._fail("card_update", token)
        super().delayed_update(token, card)
