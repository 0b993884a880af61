"""One bounded, thread-safe cache whose entries expire: names (handlers/names.py) and teams (handlers/team.py)."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class ExpiringCache:
    """key → value for `ttl_s` each; the least recently used entries go first beyond `max_entries`."""

    def __init__(self, max_entries: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._items: OrderedDict[Hashable, tuple[Any, float]] = OrderedDict()

    def get(self, key: Hashable) -> Any:
        """The value, or None when it is not cached (or no longer)."""
        now = self._clock()
        with self._lock:
            found = self._items.get(key)
            if found is None:
                return None
            if found[1] <= now:
                del self._items[key]
                return None
            self._items.move_to_end(key)
            return found[0]

    def put(self, key: Hashable, value: Any, ttl_s: float) -> None:
        expires = self._clock() + ttl_s
        with self._lock:
            self._items[key] = (value, expires)
            self._items.move_to_end(key)
            while len(self._items) > self._max:
                self._items.popitem(last=False)

    def drop(self, key: Hashable) -> None:
        with self._lock:
            self._items.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)
