"""pytest plugin: `pytest_plugins = ["sandbox.testing"]`.

- `sandbox_server` (session): one sandbox on an ephemeral 127.0.0.1 port for the whole run.
- `sandbox` (function): resets it to the seed before the test and clears faults, holds and the event target after,
  so nothing leaks between tests. `sandbox.longconn` is the long-connection side (sandbox/longconn.py), reset
  too. Tenant tokens survive resets: a lark-oapi client that cached one keeps working.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from sandbox.app import create_sandbox_app
from sandbox.data import APP_ID, APP_SECRET, INSTANCES, RECORD_IDS
from sandbox.longconn import LongConnHub
from sandbox.sender import EventSender
from sandbox.server import ServerThread
from sandbox.state import Call, Fault, SandboxState


@dataclass
class Sandbox:
    url: str  # base URL, e.g. http://127.0.0.1:54321 (the lark-oapi client's domain)
    state: SandboxState
    longconn: LongConnHub | None = None  # push_event / push_card, drop_connections, refuse_handshake, …

    @property
    def calls(self) -> list[Call]:
        """The live call log (exact counts: `len([c for c in sandbox.calls if c.endpoint == "process"])`)."""
        return self.state.calls

    @property
    def instances(self) -> dict[str, str]:
        """The sales team's native instances by name (UUID codes)."""
        return INSTANCES

    @property
    def records(self) -> dict[str, str]:
        """The sales team's attendance records by name (numeric ids, another id space)."""
        return RECORD_IDS

    app_id: ClassVar[str] = APP_ID
    app_secret: ClassVar[str] = APP_SECRET

    def inject(self, endpoint: str, **options: Any) -> Fault:
        return self.state.inject(endpoint, **options)

    def clear_faults(self) -> None:
        self.state.clear_faults()

    def release_holds(self) -> None:
        self.state.release_holds()

    def process_calls(self) -> list[Call]:
        return self.state.process_calls()

    def action_calls(self) -> list[Call]:
        return self.state.action_calls()

    def calls_for(self, endpoint: str) -> list[Call]:
        return self.state.calls_for(endpoint)

    def messages(self, chat_id: str | None = None) -> list[dict[str, Any]]:
        return self.state.bot_messages(chat_id)

    def reset(self) -> None:
        self.state.reset()

    def sender(self, bot_url: str, *, encrypt_key: str, verification_token: str, **kwargs: Any) -> EventSender:
        """An event sender bound to this sandbox's state (records user messages, issues card tokens)."""
        return EventSender(bot_url, encrypt_key=encrypt_key, verification_token=verification_token,
                           state=self.state, **kwargs)


@pytest.fixture(scope="session")
def sandbox_server() -> Iterator[Sandbox]:
    state = SandboxState()
    app = create_sandbox_app(state)
    server = ServerThread(app).start()
    try:
        yield Sandbox(server.url, state, app.extensions["sandbox_longconn"])
    finally:
        state.reset()  # wakes anything still held or delayed
        server.stop()


@pytest.fixture
def sandbox(sandbox_server: Sandbox) -> Iterator[Sandbox]:
    sandbox_server.state.reset()
    try:
        yield sandbox_server
    finally:
        state = sandbox_server.state
        state.clear_faults()
        state.release_holds()
        state.event_target = None
        if sandbox_server.longconn is not None:
            sandbox_server.longconn.reset()
