"""What every handler receives: the settings, the gateway, the store, the pool, the registry and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

from handlers.names import NameCache
from handlers.ports import Gateway, Settings, Store
from handlers.registry import Registry


@dataclass
class Delivery:
    """One card click being handled, as the pipeline claimed it: its claim key, the clicked message's copy view
    (read with the claim, so the button need not read it again) and whether the action's last transaction
    already marked the claim done (the pipeline then has nothing left to write). docs/architecture.md."""

    key: str
    message_id: str
    view: dict[str, Any] | None
    settled: bool = False


@dataclass(frozen=True)
class Context:
    config: Settings
    feishu: Gateway
    store: Store
    pool: Executor
    registry: Registry
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = field(default=time.sleep)  # injected: tests never wait for real
    # Told when a delivery is completely handled (its reply sent, or nothing to do): tests await it instead of
    # waiting out a silence, and it costs nothing in production.
    on_settled: Callable[[str, str], None] = field(default=lambda _event_id, _outcome: None)
    # Names of people and departments, for every card this process renders (handlers/names.py)
    names: NameCache = field(default_factory=NameCache)
    # Bounded-time caches of this process (handlers/team.py: teams and leaders), by name
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)
    delivery: Delivery | None = None  # set for the job of one card click (handlers/pipeline.py)

    @property
    def locale(self) -> str:
        return self.config.locale

    @property
    def admins(self) -> frozenset[str]:
        return self.config.admins
