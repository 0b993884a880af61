"""In-flight locks (docs/security.md T7): leases with an owner token, compare-and-delete; one-shot leases."""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.store import Store

from . import workers

T = 1_700_000_000.0


def race(n: int, attempt: Callable[[int], bool]) -> list[bool]:
    barrier = threading.Barrier(n)
    results: list[bool] = []

    def run(i: int) -> None:
        barrier.wait(timeout=30)
        results.append(attempt(i))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(results) == n
    return results


def test_lock_is_exclusive_until_it_expires(store: Store) -> None:
    assert store.acquire_lock("approval:1", "a", 30, T)
    assert not store.acquire_lock("approval:1", "b", 30, T + 29.9)
    assert store.acquire_lock("approval:2", "b", 30, T)  # another approval: independent
    assert store.acquire_lock("approval:1", "b", 30, T + 30)  # expired: taken over


def test_the_owner_may_extend_its_own_lock(store: Store) -> None:
    assert store.acquire_lock("approval:1", "a", 30, T)
    assert store.acquire_lock("approval:1", "a", 30, T + 20)
    assert not store.acquire_lock("approval:1", "b", 30, T + 40)  # now held until T + 50


def test_release_is_compare_and_delete(store: Store) -> None:
    assert store.acquire_lock("approval:1", "a", 30, T)
    assert not store.release_lock("approval:1", "b")  # not the owner: nothing happens
    assert not store.acquire_lock("approval:1", "b", 30, T + 1)
    assert store.release_lock("approval:1", "a")
    assert not store.release_lock("approval:1", "a")  # already gone
    assert store.acquire_lock("approval:1", "b", 30, T + 2)


def test_a_late_release_does_not_free_a_lock_taken_over_since(store: Store) -> None:
    assert store.acquire_lock("approval:1", "slow", 5, T)
    assert store.acquire_lock("approval:1", "fast", 30, T + 6)  # slow's lease expired
    assert not store.release_lock("approval:1", "slow")
    assert not store.acquire_lock("approval:1", "third", 30, T + 7)


def test_sixteen_concurrent_clicks_one_lock(store: Store) -> None:
    for round_ in range(5):
        results = race(16, lambda i, r=round_: store.acquire_lock(f"approval:{r}", f"owner-{i}", 30, T))
        assert results.count(True) == 1


def test_two_processes_one_lock_per_name(store: Store, store_url: str) -> None:
    names = [f"approval:{i}" for i in range(100)]
    barrier, results = workers.PROCESSES.Barrier(2), workers.PROCESSES.Queue()
    procs = [workers.PROCESSES.Process(target=workers.take_all, args=(store_url, names, f"w{i}", T, barrier, results))
             for i in range(2)]
    for proc in procs:
        proc.start()
    wins = {name: 0 for name in names}
    for _ in procs:
        for name, won in results.get(timeout=120):
            wins[name] += won
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    assert set(wins.values()) == {1}


def test_lease_is_granted_exactly_once(store: Store) -> None:
    results = race(16, lambda i: store.take_lease("digest:2026-11-25", f"worker-{i}", T + 86_400, T))
    assert results.count(True) == 1
    assert not store.take_lease("digest:2026-11-25", "worker-0", T + 86_400, T + 10)
    assert not store.take_lease("digest:2026-11-25", "late", T + 86_400, T + 86_399)
    assert store.take_lease("digest:2026-11-26", "worker-0", T + 2 * 86_400, T + 10)


def test_lease_can_be_taken_again_once_it_ended(store: Store) -> None:
    assert store.take_lease("reconcile", "a", T + 60, T)
    assert not store.take_lease("reconcile", "a", T + 120, T + 59)  # not re-entrant, even for its owner
    assert store.take_lease("reconcile", "b", T + 120, T + 60)


def test_sweep_clears_expired_locks_only(store: Store) -> None:
    assert store.acquire_lock("old", "a", 5, T)
    assert store.acquire_lock("live", "a", 500, T)
    store.sweep(T + 10)
    assert not store.release_lock("old", "a")  # swept
    assert store.release_lock("live", "a")
