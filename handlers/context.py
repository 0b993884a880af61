"""What every handler receives: the settings, the gateway, the store, the pool, the registry and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from handlers.ports import Gateway, Settings, Store
from handlers.registry import Registry


@dataclass(frozen=True)
class Context:
    config: Settings
    feishu: Gateway
    store: Store
    pool: Executor
    registry: Registry
    clock: Callable[[], float] = time.time
    sleep: Callable[[float], None] = field(default=time.sleep)  # injected: tests never wait for real

    @property
    def locale(self) -> str:
        return self.config.locale

    @property
    def admins(self) -> frozenset[str]:
        return self.config.admins
