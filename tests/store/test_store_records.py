"""Audit log, card registry, intents, sweep, schema and connection handling."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
import time

import pytest

import bot.store as store_module
from bot import database
from bot.database import Database, Statement, driver_errors
from bot.store import CARDS_KEPT, SCHEMA_VERSION, AuditRecord, ClaimResult, Store, open_store

T = 1_700_000_000.0
FORK = multiprocessing.get_context("fork")


# -- audit ----------------------------------------------------------------------------------------------------


def test_audit_is_read_back_in_append_order(store: Store) -> None:
    ids = []
    for i in range(30):
        # `at` deliberately not monotonic (two workers' clocks): the append order still wins
        record = AuditRecord("A1", "approve", f"ou_{i}", "done" if i % 3 == 0 else "refused", at=T + (i * 7) % 11)
        ids.append(store.append_audit(record))
    store.append_audit(AuditRecord("A2", "reject", "ou_x", "done", at=T))
    assert ids == sorted(ids) and len(set(ids)) == 30
    history = store.history("A1")
    assert [r.operator for r in history] == [f"ou_{i}" for i in range(30)]
    assert [r.id for r in history] == ids
    assert store.last_success("A1").operator == "ou_27"
    assert store.last_success("A2").action == "reject"
    assert store.last_success("nothing") is None
    assert store.history("nothing") == []


def test_audit_record_round_trips_every_field(store: Store) -> None:
    record = AuditRecord("6737202939523236113", "revoke", "ou_manager", "failed", approval_type="remedy",
                         reason="原因: 测试 😀 'quote\" \\", code=1220002, log_id="2024xyz", message="msg",
                         at=T + 0.125)
    new_id = store.append_audit(record)
    (read,) = store.history(record.approval_id)
    assert read == AuditRecord(**{**record.__dict__, "id": new_id})
    store.append_audit(AuditRecord("x", "approve", "ou", "done", code=None))
    assert store.history("x")[0].code is None


def test_audit_is_append_only_in_the_database(store: Store) -> None:
    store.append_audit(AuditRecord("A1", "approve", "ou", "done", at=T))
    for statement in ("UPDATE bot_audit SET outcome = 'forged'", "DELETE FROM bot_audit"):
        with pytest.raises(driver_errors()), store.database.connect() as conn, conn.transaction():
            conn.run(statement)
    assert store.history("A1")[0].outcome == "done"


def test_concurrent_appends_all_land(store: Store) -> None:
    def append(i: int) -> None:
        for j in range(10):
            store.append_audit(AuditRecord("C", "approve", f"t{i}-{j}", "done", at=T))

    threads = [threading.Thread(target=append, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    history = store.history("C")
    assert len(history) == 80 and len({r.id for r in history}) == 80


# -- cards ----------------------------------------------------------------------------------------------------


def test_card_registry_is_idempotent_and_ordered(store: Store) -> None:
    store.remember_card("A1", "om_2", T)
    store.remember_card("A1", "om_1", T + 1)
    store.remember_card("A1", "om_2", T + 2)  # the same message again
    store.remember_card("A2", "om_2", T)  # one message may show another approval too
    assert store.cards_for("A1") == ["om_2", "om_1"]
    assert store.cards_for("A2") == ["om_2"]
    assert store.cards_for("A3") == []


def test_only_the_newest_copies_of_an_approvals_card_are_kept(store: Store) -> None:
    for n in range(CARDS_KEPT + 7):
        store.remember_card("A1", f"om_{n:03d}", T + n)
    store.remember_card("A2", "om_other", T)
    kept = store.cards_for("A1")
    assert kept == [f"om_{n:03d}" for n in range(7, CARDS_KEPT + 7)]  # the oldest seven are forgotten
    store.remember_card("A1", "om_010", T + 99)  # one already kept: nothing else goes
    assert store.cards_for("A1") == kept
    assert store.cards_for("A2") == ["om_other"]  # each approval has its own bound


def test_a_copy_keeps_its_reader_and_view_and_the_latest_view_wins(store: Store) -> None:
    listed = {"kind": "pending", "recipient": "ou_manager", "shared": False, "page": 1, "page_token": "",
              "tasks": [{"process_code": "A1", "title": "补卡 · 张三"}]}
    store.remember_copy("om_1", listed, T)
    store.remember_copy("om_2", {"kind": "approval", "recipient": "", "shared": True}, T)
    assert store.copy_of("om_1") == listed
    store.remember_copy("om_1", {**listed, "page": 2}, T + 1)  # the list turned to its next page
    assert store.copy_of("om_1")["page"] == 2
    assert store.copy_of("om_2") == {"kind": "approval", "recipient": "", "shared": True}
    assert store.copy_of("om_unknown") is None


def test_sweep_forgets_copies_that_can_no_longer_be_updated(store: Store) -> None:
    store.remember_copy("om_old", {"kind": "approval", "recipient": "ou_a", "shared": False}, T)
    store.remember_copy("om_new", {"kind": "approval", "recipient": "ou_b", "shared": False}, T + 13 * 86_400)
    store.sweep(T + 14 * 86_400 + 1)
    assert store.copy_of("om_old") is None and store.copy_of("om_new") is not None


def test_serial_numbers_map_to_their_instance(store: Store) -> None:
    store.remember_serial("202411180001", "81D31358-93AF-92D6-7425-01A5D67C4E71", T)
    store.remember_serial("202411180001", "81D31358-93AF-92D6-7425-01A5D67C4E72", T + 1)  # re-read: latest wins
    assert store.instance_for_serial("202411180001") == "81D31358-93AF-92D6-7425-01A5D67C4E72"
    assert store.instance_for_serial("202411180002") is None


# -- intents (T10) --------------------------------------------------------------------------------------------


def test_intents_until_finished(store: Store) -> None:
    store.record_intent("i1", "A1", "approve", "ou_manager", T, {"attendance_id": "A1", "reason": "好"})
    store.record_intent("i2", "A2", "reject", "ou_manager", T + 10)
    store.record_intent("i1", "A1", "approve", "ou_other", T + 20)  # a retry of the same write: no change
    opened = store.open_intents(older_than=T + 5)
    assert [i["intent_id"] for i in opened] == ["i1"]
    assert opened[0]["detail"] == {"attendance_id": "A1", "reason": "好"}
    assert opened[0]["operator"] == "ou_manager" and opened[0]["state"] == "sending"
    assert [i["intent_id"] for i in store.open_intents(T + 10)] == ["i1", "i2"]
    store.finish_intent("i1", "done", T + 30)
    assert [i["intent_id"] for i in store.open_intents(T + 100)] == ["i2"]
    assert store.open_intents(T + 100)[0]["detail"] == {}


def test_audit_settles_its_intent_in_the_same_write(store: Store) -> None:
    store.record_intent("i-1", "A1", "approve", "ou_m", 100.0, {})
    record = AuditRecord(approval_id="A1", action="approve", operator="ou_m", outcome="done", at=101.0)
    store.append_audit(record, settles="i-1")
    assert store.open_intents(1000.0) == []
    assert [r.outcome for r in store.history("A1")] == ["done"]


def test_sweep_keeps_open_intents_and_drops_settled_old_ones(store: Store) -> None:
    store.record_intent("open", "A1", "approve", "ou", T)
    store.record_intent("settled", "A2", "approve", "ou", T)
    store.finish_intent("settled", "done", T)
    store.sweep(T + 10 * 86_400)
    assert [i["intent_id"] for i in store.open_intents(T + 10 * 86_400)] == ["open"]


# -- sweep bounds the dedup table -----------------------------------------------------------------------------


@pytest.mark.parametrize("events", [1_000, pytest.param(10_000, marks=pytest.mark.slow)])
def test_sweep_bounds_the_table_after_ten_thousand_events(store: Store, events: int) -> None:
    step = 5_000 / events  # the events span 5,000 s whatever their number
    started = time.perf_counter()
    for i in range(events):
        now = T + i * step
        assert store.claim(f"evt:{i}", 10, now) is ClaimResult.NEW
        store.finish(f"evt:{i}", now)
    fill_s = time.perf_counter() - started
    assert store.count_seen() == events
    keep = 48 * 3600
    # 3,000 s after the last event, with a keep of 4,000 s: the events older than that go (the first 80 %)
    started = time.perf_counter()
    removed = store.sweep(T + 5_000 + 3_000, keep_s=4_000)
    sweep_s = time.perf_counter() - started
    assert removed == events * 4 // 5 and store.count_seen() == events // 5
    assert store.claim(f"evt:{events - 1}", 10, T + 8_000) is ClaimResult.DONE  # recent ones are still deduplicated
    assert store.sweep(T + 5_000 + keep + 1) == events // 5 and store.count_seen() == 0
    print(f"{events} claim+finish {fill_s:.2f}s, sweep of {removed} rows {sweep_s * 1000:.1f} ms")


def test_default_keep_covers_feishus_retry_window(store: Store) -> None:
    store.claim("evt:1", 10, T)
    store.finish("evt:1", T)
    assert store.sweep(T + 7.2 * 3600) == 0  # Feishu retries for about 7.1 h
    assert store.claim("evt:1", 10, T + 7.2 * 3600) is ClaimResult.DONE
    assert store.sweep(T + 48 * 3600 + 1) == 1


def test_sweep_drops_abandoned_claims_too(store: Store) -> None:
    store.claim("evt:abandoned", 10, T)
    assert store.sweep(T + 48 * 3600 + 11) == 1


# -- schema and connections -----------------------------------------------------------------------------------


def test_schema_creation_is_idempotent_and_versioned(store: Store, store_url: str) -> None:
    store.create_schema()
    again = open_store(store_url)
    try:
        again.create_schema()
        with again.database.connect() as conn:
            assert conn.rows("SELECT version FROM bot_schema_version") == [(SCHEMA_VERSION,)]
    finally:
        again.close()


def test_concurrent_start_up_creates_the_schema_once(store_url: str) -> None:
    errors: list[BaseException] = []
    stores: list[Store] = []
    barrier = threading.Barrier(4)

    def start() -> None:
        barrier.wait(timeout=30)
        try:
            stores.append(open_store(store_url))
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    for opened in stores:
        opened.close()
    assert errors == [] and len(stores) == 4


def test_sqlite_first_open_races_are_safe(tmp_path) -> None:  # noqa: ANN001
    """Several workers opening a brand-new file together: the switch to WAL ignores the busy timeout."""
    for round_ in range(20):
        url = f"sqlite:///{tmp_path / f'fresh-{round_}.sqlite3'}"
        barrier = threading.Barrier(4)
        outcomes: list[object] = []

        def start(url: str = url, barrier: threading.Barrier = barrier, outcomes: list = outcomes) -> None:
            barrier.wait(timeout=30)
            try:
                opened = open_store(url)
                outcomes.append(opened.claim("evt:1", 10, T).value)
                opened.close()
            except Exception as err:  # noqa: BLE001
                outcomes.append(err)

        threads = [threading.Thread(target=start) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(map(str, outcomes)) == ["busy", "busy", "busy", "new"], outcomes


def test_a_newer_schema_is_refused(store: Store, store_url: str) -> None:
    with store.database.connect() as conn:
        conn.run(Statement("INSERT INTO bot_schema_version (version, applied) VALUES (:v, 0)"),
                 {"v": SCHEMA_VERSION + 1})
    with pytest.raises(RuntimeError, match="newer"):
        open_store(store_url)


def test_ping(store: Store, tmp_path) -> None:  # noqa: ANN001
    assert store.ping()
    missing = tmp_path / "missing-dir" / "x.sqlite3"
    unreachable = Store(Database("sqlite", lambda: sqlite3.connect(f"file:{missing}?mode=rw", uri=True), size=1,
                                 overflow=0, path=missing))
    assert not unreachable.ping()
    refused = Store(store_module.database_for("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2"))
    assert not refused.ping()


def test_postgres_urls_use_psycopg(store: Store, store_url: str) -> None:
    if store_url.startswith("postgresql"):
        with store.database.connect() as conn:
            assert type(conn.raw).__module__.startswith("psycopg")


def _child_claims(store: Store, key: str, call_after_fork: bool, out: multiprocessing.Queue) -> None:
    if call_after_fork:
        store.after_fork()  # what gunicorn's post_fork does; the store already did it by itself
    out.put(store.claim(key, 10, T).value)


@pytest.mark.parametrize("call_after_fork", [True, False], ids=["explicit-after_fork", "automatic"])
def test_forked_workers_use_their_own_connections(store: Store, call_after_fork: bool) -> None:
    """gunicorn --preload: the master opened the store; each forked worker must open its own connections."""
    assert store.claim("evt:master", 10, T) is ClaimResult.NEW  # the pool now holds a connection
    out = FORK.Queue()
    children = [FORK.Process(target=_child_claims, args=(store, f"evt:child{i}", call_after_fork, out))
                for i in range(2)]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert sorted(out.get(timeout=10) for _ in children) == ["new", "new"]
    assert store.claim("evt:master", 10, T) is ClaimResult.BUSY  # the master's own connections still work
    assert store.claim("evt:child0", 10, T) is ClaimResult.BUSY


def test_a_connection_from_another_process_is_never_checked_out(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second line of fork safety: pooled connections remember the pid that opened them."""
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW
    inherited = len(database._INHERITED)
    real_pid = os.getpid()
    monkeypatch.setattr(database.os, "getpid", lambda: real_pid + 1)  # as if we were a forked child
    assert store.claim("evt:1", 10, T) is ClaimResult.BUSY
    assert len(database._INHERITED) == inherited + 1  # set aside, not closed, not used


def test_ping_is_false_when_the_database_is_unreachable() -> None:
    database = store_module.database_for("postgresql://bot@127.0.0.1:9/none?connect_timeout=2")
    try:
        assert Store(database).ping() is False
    finally:
        database.dispose()
