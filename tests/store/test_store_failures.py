"""Broken storage: a full disk, a deleted database file, a read-only directory, an unwritable -shm file, a lock
held past its timeout. Each raises StoreUnavailable (never a raw driver error) and /healthz says which part failed.

Faults are real where the machine allows it: a tmpfs of 4 MiB that fills up or is remounted read-only (root).
Without root the test id says "simulated": SQLite's max_page_count for the full disk, file modes for the rest.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

import bot.store as store_module
from bot.app import create_app
from bot.config import load_config
from bot.store import AuditRecord, ClaimResult, Store, StoreUnavailable, open_store, open_store_or_exit
from tests.store import filesystems

T = 1_700_000_000.0
OK = {"status": "ok", "store": "ok"}
REAL = "tmpfs" if filesystems.can_mount() else "simulated"


def healthz_app(store: Store, tmp_path: Path) -> Flask:
    """The real app factory around `store`; Feishu is never called by /healthz."""
    config = load_config({
        "FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t",
        "FEISHU_ENCRYPT_KEY": "k", "FEISHU_BASE_URL": "http://127.0.0.1:9",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'unused.sqlite3'}",
    })
    app = create_app(config, feishu=object(), store=store)
    app.extensions["approval_bot"].maintenance.ensure_started = lambda: None  # no background upkeep here
    return app


@pytest.fixture
def healthz(tmp_path: Path) -> Iterator:
    apps: list[Flask] = []

    def ask(store: Store) -> tuple[int, dict]:
        if not apps:
            apps.append(healthz_app(store, tmp_path))
        started = time.monotonic()
        answer = apps[0].test_client().get("/healthz")
        assert time.monotonic() - started < HEALTH_ANSWER_S
        return answer.status_code, answer.get_json()

    yield ask
    for app in apps:
        app.extensions["approval_bot"].ctx.pool.shutdown(wait=False)


HEALTH_ANSWER_S = store_module.HEALTH_TIMEOUT_S + 1.0


def claim_until_unavailable(store: Store, limit: int = 20_000) -> StoreUnavailable:
    for i in range(limit):
        try:
            store.claim(f"evt:{i}:" + "x" * 200, 10, T)
        except StoreUnavailable as err:
            return err
    raise AssertionError(f"{limit} claims all succeeded on a full disk")


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if not filesystems.can_mount():
        yield tmp_path
        return
    with filesystems.tmpfs(tmp_path / "fs") as mounted:
        yield mounted


def test_a_full_disk_is_unavailable_and_healthz_says_so_until_space_returns(small_disk: Path, healthz) -> None:
    store = open_store(f"sqlite:///{small_disk / 'bot.sqlite3'}")
    assert healthz(store) == (200, OK)
    filler = filesystems.fill(small_disk) if REAL == "tmpfs" else None
    if filler is None:
        filesystems.limit_pages(store)
    err = claim_until_unavailable(store)
    assert err.problem == "disk full"
    status, body = healthz(store)
    assert status == 503 and body["status"] == "store unavailable"
    assert body["store"].startswith("file: disk full (" if filler else "write: disk full"), body
    if filler is not None:  # space comes back: the same store works again, no restart needed
        filler.unlink()
        assert healthz(store) == (200, OK)
        assert store.claim("evt:after", 10, T) is ClaimResult.NEW
    store.close()


def test_a_deleted_database_file_is_unavailable_not_silently_recreated(tmp_path: Path, healthz) -> None:
    path = tmp_path / "bot.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW  # the pool now holds a connection to the file
    assert healthz(store) == (200, OK)
    path.unlink()
    with pytest.raises(StoreUnavailable) as raised:
        store.claim("evt:2", 10, T)
    assert raised.value.problem == "database file missing"
    with pytest.raises(StoreUnavailable):
        store.history("123")  # reads too: the deleted file's old rows are not served as if current
    assert healthz(store) == (503, {"status": "store unavailable", "store": "file: database file missing"})
    assert not path.exists()
    store.close()


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[tuple[Path, object]]:
    """(directory, make_read_only): a tmpfs remounted read-only (root), else file modes."""
    if filesystems.can_mount():
        with filesystems.tmpfs(tmp_path / "fs") as mounted:
            yield mounted, lambda: filesystems.remount_read_only(mounted)
        return
    directory = tmp_path / "store"
    directory.mkdir()

    def make_read_only() -> None:
        for child in directory.iterdir():
            child.chmod(0o444)
        directory.chmod(0o555)

    yield directory, make_read_only
    directory.chmod(0o755)


def test_a_read_only_directory_is_unavailable_and_refused_at_start_up(read_only_dir, healthz) -> None:
    directory, make_read_only = read_only_dir
    url = f"sqlite:///{directory / 'bot.sqlite3'}"
    store = open_store(url)
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW
    store.close()  # its pool reconnects on next use; a mount with files open for writing cannot turn read-only
    make_read_only()
    with pytest.raises(StoreUnavailable) as raised:
        store.claim("evt:2", 10, T)
    assert raised.value.problem in ("read-only", "cannot open the database file")
    status, body = healthz(store)
    assert status == 503
    assert body == {"status": "store unavailable",
                    "store": "file: directory not writable (WAL creates its -wal and -shm files there)"}
    store.close()
    with pytest.raises(SystemExit) as exited:
        open_store_or_exit(url)
    message = str(exited.value)
    assert message == f"approval-bot: store unavailable: {directory}: directory not writable " \
                      "(WAL creates its -wal and -shm files there)"


def _make_read_only(shm: Path) -> None:
    """A read-only bind mount over the file when this host can mount (root), else file modes."""
    if filesystems.can_mount():
        subprocess.run(["mount", "--bind", str(shm), str(shm)], check=True, timeout=10)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(shm)], check=True, timeout=10)
    else:
        shm.chmod(0o444)


@pytest.fixture
def unwritable_shm(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """(database, its -shm) with the -shm file unwritable while a connection keeps it in place."""
    path = tmp_path / "bot.sqlite3"
    open_store(f"sqlite:///{path}").close()
    holder = sqlite3.connect(path)
    holder.execute("SELECT count(*) FROM bot_locks").fetchall()  # WAL mode: -wal and -shm now exist
    shm = Path(f"{path}-shm")
    assert shm.exists()
    _make_read_only(shm)
    try:
        yield path, shm
    finally:
        if filesystems.can_mount():
            subprocess.run(["umount", "-l", str(shm)], check=False, timeout=10)
        holder.close()


def test_an_unwritable_shm_file_stops_start_up_with_one_line(unwritable_shm, healthz) -> None:
    """The SIGBUS crash loop: WAL maps -shm into memory. Caught before any worker touches it."""
    path, shm = unwritable_shm
    with pytest.raises(SystemExit) as exited:
        open_store_or_exit(f"sqlite:///{path}")
    assert str(exited.value) == f"approval-bot: store unavailable: {shm}: -shm file not writable " \
                                "(fix its owner or mode)"
    assert "\n" not in str(exited.value)


def test_health_reports_an_unwritable_shm_file(tmp_path: Path, healthz) -> None:
    path = tmp_path / "bot.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert store.claim("evt:1", 10, T) is ClaimResult.NEW  # a pooled connection keeps -shm in place
    shm = Path(f"{path}-shm")
    _make_read_only(shm)
    try:
        assert healthz(store) == (503, {"status": "store unavailable",
                                        "store": "file: -shm file not writable (fix its owner or mode)"})
    finally:
        if filesystems.can_mount():
            subprocess.run(["umount", "-l", str(shm)], check=False, timeout=10)
        store.close()


def test_a_lock_held_past_its_timeout_is_unavailable(tmp_path: Path, healthz, monkeypatch) -> None:
    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_S", 0.3)
    monkeypatch.setattr(store_module, "HEALTH_TIMEOUT_S", 0.3)
    path = tmp_path / "bot.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert healthz(store) == (200, OK)
    other = sqlite3.connect(path, isolation_level=None)  # another process's writer, stuck mid-transaction
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO bot_locks (name, owner, expires) VALUES ('x', 'y', 0)")
    try:
        with pytest.raises(StoreUnavailable) as raised:
            store.claim("evt:1", 10, T)
        assert raised.value.problem == "locked past its timeout"
        assert isinstance(raised.value.__cause__, sqlite3.OperationalError)  # the driver's error, for the log
        assert healthz(store) == (503, {"status": "store unavailable", "store": "write: locked past its timeout"})
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert healthz(store) == (200, OK)
    store.close()


def test_healthz_writes_to_the_real_tables_not_just_a_pooled_select(tmp_path: Path, healthz) -> None:
    """A file that still opens and answers SELECT 1, but whose tables are gone (replaced by an empty file)."""
    path = tmp_path / "bot.sqlite3"
    store = open_store(f"sqlite:///{path}")
    assert healthz(store) == (200, OK)
    path.unlink()
    for side in (Path(f"{path}-wal"), Path(f"{path}-shm")):
        side.unlink(missing_ok=True)
    sqlite3.connect(path).close()
    path.touch()
    assert store.ping()  # what /healthz used to check
    status, body = healthz(store)
    assert status == 503 and body == {"status": "store unavailable",
                                      "store": "write: tables missing (database file replaced?)"}
    store.close()


def test_bugs_are_not_storage_failures(tmp_path: Path) -> None:
    """Only storage failures become StoreUnavailable: a broken rule (the append-only audit) stays an error."""
    store = open_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    store.append_audit(AuditRecord("123", "approve", "ou_x", "done", at=T))
    with pytest.raises(sqlite3.IntegrityError), store._write() as conn:
        conn.run("UPDATE bot_audit SET outcome = 'x'")
    store.close()


@pytest.mark.slow  # a fresh process: imports lark-oapi (about 4 s)
def test_sigbus_guard_runs_before_the_app_starts(tmp_path: Path) -> None:
    """create_app under gunicorn's preload: an unusable store ends the process with one line, no traceback."""
    directory = tmp_path / "missing-dir"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FEISHU_", "BOT_"))}
    env.update({"FEISHU_APP_ID": "cli_test", "FEISHU_APP_SECRET": "s", "FEISHU_VERIFICATION_TOKEN": "t",
                "FEISHU_ENCRYPT_KEY": "k", "DATABASE_URL": f"sqlite:///{directory / 'bot.sqlite3'}"})
    result = subprocess.run([sys.executable, "-c", "from bot.app import create_app; create_app()"], env=env,
                            cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr.strip() == f"approval-bot: store unavailable: {directory}: directory missing"


@pytest.mark.parametrize(("sqlstate", "problem"), [
    ("53100", "disk full"), ("25006", "read-only"), ("55P03", "locked past its timeout"),
    ("57014", "timed out"), ("08006", "unreachable"), ("08001", "unreachable"), ("XX000", "SQLSTATE XX000"),
])
def test_postgresql_failures_are_named_by_their_sqlstate(sqlstate: str, problem: str) -> None:
    import psycopg.errors

    err = psycopg.errors.lookup(sqlstate)("as the server says it")  # the class psycopg raises for that state
    assert store_module.storage_problem(err) == problem


def test_only_storage_errors_are_storage_problems() -> None:
    assert store_module.storage_problem(sqlite3.IntegrityError("UNIQUE constraint failed")) is None
    assert store_module.storage_problem(ValueError("a bug")) is None
    assert store_module.storage_problem(OSError(28, "No space left on device")) == \
        "I/O error (No space left on device)"


def test_an_unreachable_postgresql_ends_start_up_without_showing_its_password() -> None:
    with pytest.raises(SystemExit) as raised:
        open_store_or_exit("postgresql://bot:hunter2@127.0.0.1:9/none?connect_timeout=1")
    said = str(raised.value)
    assert said == ("approval-bot: store unavailable: postgresql://bot:***@127.0.0.1:9/none?connect_timeout=1: "
                    "unreachable")
