"""Seen-event claims (docs/security.md T6): new / busy / takeover / done, across threads, processes and restarts."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable

import pytest

from bot.store import ClaimResult, Store, open_store

from . import workers

NEW, BUSY, DONE = ClaimResult.NEW, ClaimResult.BUSY, ClaimResult.DONE
T = 1_700_000_000.0


def test_new_then_busy_then_done(store: Store) -> None:
    assert store.claim("evt:1", 10, T) is NEW
    assert store.claim("evt:1", 10, T + 1) is BUSY
    store.finish("evt:1", T + 2)
    assert store.claim("evt:1", 10, T + 3) is DONE
    assert store.claim("evt:1", 10, T + 3600) is DONE


def test_an_expired_claim_is_taken_over_exactly_once(store: Store) -> None:
    assert store.claim("evt:1", 10, T) is NEW
    assert store.claim("evt:1", 10, T + 9.999) is BUSY
    assert store.claim("evt:1", 10, T + 10) is NEW  # the lease ended: the first worker died mid-way
    assert store.claim("evt:1", 10, T + 10) is BUSY  # and the takeover is itself a fresh lease
    assert store.claim("evt:1", 10, T + 19.9) is BUSY
    store.finish("evt:1", T + 12)
    assert store.claim("evt:1", 10, T + 100) is DONE


def test_release_lets_a_redelivery_process_it(store: Store) -> None:
    assert store.claim("evt:1", 10, T) is NEW
    store.release("evt:1")
    assert store.claim("evt:1", 10, T + 1) is NEW


def test_release_never_forgets_a_done_event(store: Store) -> None:
    store.claim("evt:1", 10, T)
    store.finish("evt:1", T)
    store.release("evt:1")
    assert store.claim("evt:1", 10, T + 1) is DONE


def test_finish_without_a_claim_still_records_it(store: Store) -> None:
    store.finish("msg:om_1", T)
    assert store.claim("msg:om_1", 10, T) is DONE


def test_keys_are_independent_and_exact(store: Store) -> None:
    assert store.claim("evt:a", 10, T) is NEW
    assert store.claim("evt:A", 10, T) is NEW
    assert store.claim("evt:a ", 10, T) is NEW
    assert store.claim("evt:事件", 10, T) is NEW
    assert store.count_seen() == 4


def test_claims_survive_a_restart(store_url: str) -> None:
    first = open_store(store_url)
    first.claim("evt:done", 10, T)
    first.finish("evt:done", T)
    first.claim("evt:held", 10, T)
    first.close()
    second = open_store(store_url)
    try:
        assert second.claim("evt:done", 10, T + 1) is DONE
        assert second.claim("evt:held", 10, T + 1) is BUSY
        assert second.claim("evt:held", 10, T + 11) is NEW
    finally:
        second.close()


def race(n: int, attempt: Callable[[], object]) -> Counter:
    barrier = threading.Barrier(n)
    results: list[object] = []

    def run() -> None:
        barrier.wait(timeout=30)
        results.append(attempt())

    threads = [threading.Thread(target=run) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(results)


def test_sixteen_threads_one_winner(store: Store) -> None:
    for round_ in range(5):
        assert race(16, lambda r=round_: store.claim(f"evt:race-{r}", 10, T)) == {NEW: 1, BUSY: 15}


def test_sixteen_threads_racing_a_takeover_one_winner(store: Store) -> None:
    store.claim("evt:stale", 10, T)
    assert race(16, lambda: store.claim("evt:stale", 10, T + 60)) == {NEW: 1, BUSY: 15}


def test_sixteen_threads_on_a_done_event(store: Store) -> None:
    store.claim("evt:done", 10, T)
    store.finish("evt:done", T)
    assert race(16, lambda: store.claim("evt:done", 10, T + 60)) == {DONE: 16}


def test_a_workers_busy_threads_each_hold_a_connection_at_once(store: Store) -> None:
    # 24 of a worker's 32 threads inside a store call together (docs/serving.md, "The store's connections"):
    # with PostgreSQL's pool at 5 + 10 they queued for a connection, and 64 clicks in flight did not scale out.
    inside = threading.Barrier(24, timeout=10)

    def hold() -> bool:
        with store._read():
            inside.wait()  # broken (and this thread's result missing) unless all 24 get a connection in time
        return True

    assert race(24, hold) == {True: 24}


def _race_in_processes(store_url: str, keys: list[str], now: float) -> dict[str, Counter]:
    barrier, results = workers.PROCESSES.Barrier(2), workers.PROCESSES.Queue()
    procs = [workers.PROCESSES.Process(target=workers.claim_all, args=(store_url, keys, 10.0, now, barrier, results))
             for _ in range(2)]
    for proc in procs:
        proc.start()
    outcomes: dict[str, Counter] = {key: Counter() for key in keys}
    for _ in procs:
        for key, value in results.get(timeout=120):
            outcomes[key][value] += 1
    for proc in procs:
        proc.join(timeout=60)
        assert proc.exitcode == 0
    return outcomes


def test_two_processes_one_winner_per_key(store: Store, store_url: str) -> None:
    """Two gunicorn-like workers (fresh processes) claim the same 200 keys at once."""
    keys = [f"evt:p{i}" for i in range(200)]
    outcomes = _race_in_processes(store_url, keys, T)
    assert all(counts == {"new": 1, "busy": 1} for counts in outcomes.values()), outcomes
    assert store.count_seen() == 200


def test_two_processes_racing_takeovers_one_winner_per_key(store: Store, store_url: str) -> None:
    keys = [f"evt:t{i}" for i in range(100)]
    for key in keys:
        store.claim(key, 10, T)  # claimed by a worker that then died
    outcomes = _race_in_processes(store_url, keys, T + 30)
    assert all(counts == {"new": 1, "busy": 1} for counts in outcomes.values()), outcomes


def test_a_worker_killed_inside_a_write_transaction_does_not_block_the_others(store: Store, store_url: str) -> None:
    ready = workers.PROCESSES.Event()
    proc = workers.PROCESSES.Process(target=workers.die_inside_a_write, args=(store_url, "evt:killed", ready))
    proc.start()
    try:
        assert ready.wait(timeout=60)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.join(timeout=30)
    started = time.monotonic()
    assert store.claim("evt:killed", 10, T) is NEW  # its uncommitted claim died with it
    assert store.claim("evt:other", 10, T) is NEW
    assert time.monotonic() - started < 5


def test_a_worker_that_vanished_after_claiming_is_taken_over_after_the_lease(store: Store, store_url: str) -> None:
    proc = workers.PROCESSES.Process(target=workers.claim_and_vanish, args=(store_url, "evt:orphan", T))
    proc.start()
    proc.join(timeout=60)
    assert proc.exitcode == 0
    assert store.claim("evt:orphan", 10, T + 5) is BUSY  # a re-delivery now: answer 503, Feishu retries
    assert store.claim("evt:orphan", 10, T + 15) is NEW  # Feishu's first retry (+15 s) processes it


def test_sqlite_runs_in_wal_with_begin_immediate_for_writes(tmp_path) -> None:  # noqa: ANN001
    store = open_store(f"sqlite:///{tmp_path / 'wal.sqlite3'}")
    statements: list[str] = []
    store.database.observers.append(statements.append)
    try:
        with store.database.connect() as conn:
            assert conn.scalar("PRAGMA journal_mode") == "wal"
            assert conn.scalar("PRAGMA busy_timeout") >= 5000
        statements.clear()
        store.claim("evt:1", 10, T)
        # single statements run in autocommit: no BEGIN/COMMIT holding the write lock around them
        assert not any(s.upper().startswith("BEGIN") for s in statements)
        assert sum(s.lstrip().upper().startswith("INSERT") for s in statements) == 1
        statements.clear()
        store.sweep(T)  # several statements: one IMMEDIATE transaction
        assert statements[0] == "BEGIN IMMEDIATE"
        statements.clear()
        store.cards_for("x")
        assert not any(s.upper().startswith("BEGIN") for s in statements)  # reads never take the write lock
    finally:
        store.close()


def test_claim_is_one_write_on_every_dialect(store: Store) -> None:
    """A claim is one read and one atomic write; a finished key is answered by the read alone."""
    statements: list[str] = []

    def record(statement: str) -> None:
        if not statement.upper().startswith(("BEGIN", "SELECT 1", "PRAGMA")):
            statements.append(statement)

    store.database.observers.append(record)
    for now in (T, T + 1, T + 20):
        statements.clear()
        store.claim("evt:one", 10, now)
        writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
        assert len(writes) == 1 and len(statements) == 2, statements
    store.finish("evt:one", T + 21)
    statements.clear()
    assert store.claim("evt:one", 10, T + 22) is ClaimResult.DONE
    assert len(statements) == 1 and statements[0].lstrip().upper().startswith("SELECT")


@pytest.mark.parametrize("url", ["sqlite:///:memory:", "sqlite://", "mysql://u@h/db"])
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        open_store(url)
