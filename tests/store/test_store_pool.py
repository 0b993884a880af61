"""The store's connection pool (bot/database.py): bounded waits, connections the server ended, transactions left
clean, and the statements' two parameter styles."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

import bot.store as store_module
from bot.database import Database, PoolTimeout, Statement, driver_errors
from bot.store import ClaimResult, Store, StoreUnavailable, open_store

T = 1_795_000_000.0


def small_pool(path: Path, timeout_s: float) -> Store:
    """A store on an existing file whose pool holds one connection."""
    open_store(f"sqlite:///{path}").close()  # the schema
    return Store(Database("sqlite", lambda: sqlite3.connect(path, isolation_level=None, check_same_thread=False),
                          size=1, overflow=0, timeout_s=timeout_s, path=path))


def hold_the_connection(store: Store, seconds: float) -> threading.Thread:
    taken = threading.Event()

    def hold() -> None:
        with store.database.connect():
            taken.set()
            time.sleep(seconds)

    thread = threading.Thread(target=hold)
    thread.start()
    assert taken.wait(10)
    return thread


def test_a_thread_that_finds_every_connection_in_use_gives_up_in_bounded_time(tmp_path: Path) -> None:
    store = small_pool(tmp_path / "bot.sqlite3", timeout_s=0.2)
    holder = hold_the_connection(store, 1.0)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as raised:
        store.claim("evt:1", 10, T)
    assert raised.value.problem == "no free connection in the pool"
    assert isinstance(raised.value.__cause__, PoolTimeout)
    assert 0.2 <= time.monotonic() - started < 0.9
    holder.join(10)
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW  # the connection came back: the store works again
    store.close()


def test_a_waiting_thread_gets_the_connection_as_soon_as_it_is_given_back(tmp_path: Path) -> None:
    store = small_pool(tmp_path / "bot.sqlite3", timeout_s=5.0)
    holder = hold_the_connection(store, 0.2)
    started = time.monotonic()
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW
    assert time.monotonic() - started < 2.0
    holder.join(10)
    store.close()


def test_a_failed_transaction_leaves_its_connection_clean(store: Store) -> None:
    store.append_audit(store_module.AuditRecord("A1", "approve", "ou", "done", at=T))
    with pytest.raises((StoreUnavailable, *driver_errors())), store._write() as conn:
        conn.run("UPDATE bot_audit SET outcome = 'forged'")  # the append-only trigger refuses it
    # the same pooled connection: no transaction left open on it, so the next one begins and commits
    assert store.claim("evt:after", 10, T) is ClaimResult.NEW
    assert store.claim("evt:after", 10, T) is ClaimResult.BUSY
    assert store.history("A1")[0].outcome == "done"


def _backend_pids(store: Store) -> list[int]:
    with store.database.connect() as conn:
        return [conn.raw.info.backend_pid]


def _terminate(store_url: str, pid: int) -> None:
    import psycopg

    with psycopg.connect(store_url.replace("postgresql+psycopg://", "postgresql://", 1), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def test_an_idle_connection_the_server_ended_is_replaced_before_use(postgres_url: str, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "PG_PING_AFTER_S", 0.05)
    store = open_store(postgres_url)
    try:
        (pid,) = _backend_pids(store)
        _terminate(postgres_url, pid)  # a server restart, or an idle-session timeout, as the pool sees it
        time.sleep(0.2)
        assert store.claim("evt:1", 10, T) is ClaimResult.NEW  # pinged, found dead, replaced: no error
        assert _backend_pids(store) != [pid]
    finally:
        store.close()


def test_a_connection_the_server_ended_mid_use_is_not_pooled_again(postgres_url: str, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "PG_PING_AFTER_S", 3600.0)  # no ping: the next statement finds it dead
    store = open_store(postgres_url)
    try:
        (pid,) = _backend_pids(store)
        _terminate(postgres_url, pid)
        with pytest.raises(StoreUnavailable):
            store.claim("evt:1", 10, T)
        assert store.claim("evt:1", 10, T) is ClaimResult.NEW  # a new connection, not the broken one
    finally:
        store.close()


def test_statements_are_written_once_for_both_parameter_styles() -> None:
    statement = Statement("SELECT :a, b::text FROM t WHERE c = :c_2 AND d = ':not_a_name' AND e LIKE 'x%'")
    assert statement.sqlite == "SELECT :a, b::text FROM t WHERE c = :c_2 AND d = ':not_a_name' AND e LIKE 'x%'"
    assert statement.postgresql == ("SELECT %(a)s, b::text FROM t WHERE c = %(c_2)s AND d = ':not_a_name' "
                                    "AND e LIKE 'x%%'")


def test_a_literal_reads_the_same_on_postgresql(postgres_url: str) -> None:
    store = open_store(postgres_url)
    try:
        with store.database.connect() as conn:
            assert conn.first(Statement("SELECT ':kept', '100%', :n::int"), {"n": "7"}) == (":kept", "100%", 7)
            assert conn.first(Statement("SELECT '50%'")) == ("50%",)
    finally:
        store.close()
