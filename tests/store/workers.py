"""Child-process bodies for the multi-process store tests (fresh processes: they must live in an importable
module), and the context that starts them."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

from bot.store import open_store

# Fresh processes as spawn starts them (no thread, engine, connection or lock of the test process), forked from
# one server process that imported this module once: spawn pays a Python start and the store's imports for
# every child, about 1 s of CPU each.
PROCESSES = multiprocessing.get_context("forkserver")
PROCESSES.set_forkserver_preload([__name__])


def claim_all(url: str, keys: list[str], lease_s: float, now: float, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait(timeout=60)
        results.put([(key, store.claim(key, lease_s, now).value) for key in keys])
    finally:
        store.close()


def take_all(url: str, names: list[str], owner: str, now: float, barrier: Any, results: Any) -> None:
    store = open_store(url)
    try:
        barrier.wait(timeout=60)
        results.put([(name, store.acquire_lock(name, owner, 30.0, now)) for name in names])
    finally:
        store.close()


def die_inside_a_write(url: str, key: str, ready: Any) -> None:
    """Open a write transaction that claims `key`, then hang until killed: the kill -9 mid-transaction case."""
    store = open_store(url)
    with store._write() as conn:
        conn.run("INSERT INTO bot_seen_events (\"key\", state, expires, owner) "
                 f"VALUES ('{key}', 'in_progress', 1e12, 'dead')")
        ready.set()
        time.sleep(120)


def claim_and_vanish(url: str, key: str, now: float) -> None:
    """Claim, then exit without finish or release: a worker killed after the dedup insert."""
    store = open_store(url)
    store.claim(key, 10.0, now)
    import os

    os._exit(0)
