"""The shared store: seen events (claims), in-flight locks and leases, action intents, card registry, audit log.

One implementation, plain SQL on the driver (bot/database.py), for two dialects:
- SQLite (the embedded default, ``sqlite:///path.sqlite3``): WAL, busy timeout, and ``BEGIN IMMEDIATE`` for every
  write transaction, so several gunicorn workers (processes) share one file safely.
- PostgreSQL (``postgresql://…``, driven by psycopg 3): the same statements; ``INSERT … ON CONFLICT … RETURNING`` is
  atomic there under READ COMMITTED.

Every state change is one statement in one transaction (the claim runs on every event: one round trip).

Claims (docs/security.md T6) are leases: ``claim`` answers NEW for an unseen key or an ``in_progress`` claim whose lease
has expired (a worker died mid-way: take it over), BUSY for an unexpired one (answer non-200 so Feishu retries),
and DONE once ``finish`` ran. Locks (T7) are leases with an owner token, released by compare-and-delete.

Fork safety: gunicorn with ``preload_app`` builds the store in the master and forks. A connection must never be
shared by two processes (their messages would interleave on one socket, or one SQLite handle). ``Store.after_fork()``
drops the pooled connections inherited from the parent without closing them (closing would disturb the parent).
It runs by itself in every forked child (``os.register_at_fork``); calling it again from gunicorn's ``post_fork`` is
harmless. Each checkout also refuses a pooled connection opened by another process, as a second line.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sqlite3
import threading
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from bot import metrics
from bot.database import (
    Connection,
    Database,
    PoolTimeout,
    Statement,
    connection_errors,
    driver_errors,
    not_storage_errors,
)
from core.errors import StoreUnavailable
from core.records import ActionStart, AuditRecord, ClaimResult, Intent

SCHEMA_VERSION = 2  # the steps from each older version: MIGRATIONS, below the tables
BUSY_TIMEOUT_S = 10.0  # SQLite: how long a writer waits for another process's write lock
HEALTH_TIMEOUT_S = 2.0  # /healthz's write probe gives up after this (an orchestrator's probe waits a few seconds)
CARDS_KEPT = 20  # copies of one approval's card that are updated on each change: the newest (bounds the fan-out)
SERIALS_KNOWN = 4096  # serial → instance pairs answered from memory (a few hundred KB at most)
MIN_FREE_BYTES = 1024 * 1024  # less free space than this beside a SQLite store counts as a full disk
POOL_TIMEOUT_S = 30.0  # a thread waits this long for a free connection before the store counts as unavailable
PG_PING_AFTER_S = 1.0  # a PostgreSQL connection idle longer than this is pinged before use (a restart closed it)
PG_RECYCLE_S = 1800.0  # and one older than this is replaced (proxies and firewalls drop long-lived sessions)
_HEALTH_ROW_BYTES = 8192  # the probe row needs new (overflow) pages: a full database cannot pass it
_PG_SCHEMA_LOCK = 0x61707062  # pg_advisory_xact_lock key: serializes schema creation across workers

IN_PROGRESS = "in_progress"
DONE = "done"
SENDING = "sending"
COPY_KEEP_S = 14 * 86_400  # a sent card can be PATCHed for 14 days (docs/feishu.md): then it follows nothing

# -- the tables ----------------------------------------------------------------------------------------------------
# {double} and {audit_id} are the one difference between the dialects. The DDL is what stores created by earlier
# versions (through SQLAlchemy) already have, so `CREATE … IF NOT EXISTS` leaves those as they are.
_TABLES = (
    # key: "evt:<event_id>", "msg:<message_id>", "legacy:<nonce>:<ts>". expires: lease end while in_progress,
    # the finish time once done. owner: a random token per successful claim (tells the claimer it won).
    'CREATE TABLE IF NOT EXISTS bot_seen_events ("key" TEXT NOT NULL, state TEXT NOT NULL, '
    'expires {double} NOT NULL, owner TEXT NOT NULL, PRIMARY KEY ("key"))',
    "CREATE INDEX IF NOT EXISTS ix_bot_seen_events_expires ON bot_seen_events (expires)",
    # In-flight locks and one-shot leases share one table: a row is held until `expires`.
    "CREATE TABLE IF NOT EXISTS bot_locks (name TEXT NOT NULL, owner TEXT NOT NULL, expires {double} NOT NULL, "
    "PRIMARY KEY (name))",
    "CREATE TABLE IF NOT EXISTS bot_intents (intent_id TEXT NOT NULL, approval_id TEXT NOT NULL, "
    "action TEXT NOT NULL, operator TEXT NOT NULL, state TEXT NOT NULL, created {double} NOT NULL, "
    "updated {double} NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (intent_id))",
    "CREATE INDEX IF NOT EXISTS ix_bot_intents_state_created ON bot_intents (state, created)",
    "CREATE TABLE IF NOT EXISTS bot_cards (approval_id TEXT NOT NULL, message_id TEXT NOT NULL, "
    "created {double} NOT NULL, PRIMARY KEY (approval_id, message_id))",
    # Who each card copy was sent to and what it shows, so that an update renders it again for that reader.
    # view: JSON {"kind": "approval" | "pending", "recipient": open_id or "", "shared": bool, …}.
    'CREATE TABLE IF NOT EXISTS bot_card_copies (message_id TEXT NOT NULL, "view" TEXT NOT NULL, '
    "created {double} NOT NULL, PRIMARY KEY (message_id))",
    # Serial numbers the bot has shown on a card: what people type back into commands.
    "CREATE TABLE IF NOT EXISTS bot_serials (serial TEXT NOT NULL, instance_code TEXT NOT NULL, "
    "created {double} NOT NULL, PRIMARY KEY (serial))",
    # id: the rowid on SQLite; a BIGINT identity on PostgreSQL.
    "CREATE TABLE IF NOT EXISTS bot_audit (id {audit_id} NOT NULL, approval_id TEXT NOT NULL, action TEXT NOT NULL, "
    "operator TEXT NOT NULL, outcome TEXT NOT NULL, approval_type TEXT NOT NULL, reason TEXT NOT NULL, code BIGINT, "
    "log_id TEXT NOT NULL, message TEXT NOT NULL, at {double} NOT NULL, PRIMARY KEY (id))",
    "CREATE INDEX IF NOT EXISTS ix_bot_audit_approval_id ON bot_audit (approval_id, id)",
    # Approvers the bot has seen holding a task: who gets the daily digest of their pending approvals.
    "CREATE TABLE IF NOT EXISTS bot_approvers (open_id TEXT NOT NULL, last_seen {double} NOT NULL, "
    "PRIMARY KEY (open_id))",
    # Attendance records the bot has found (handlers/records.py): which type, whose and which day, so that an id
    # typed or clicked later is looked up for that requester and day alone, with no team-wide search.
    "CREATE TABLE IF NOT EXISTS bot_attendance_records (approval_id TEXT NOT NULL, ref TEXT NOT NULL, "
    "created {double} NOT NULL, PRIMARY KEY (approval_id))",
    "CREATE TABLE IF NOT EXISTS bot_schema_version (version INTEGER NOT NULL, applied {double} NOT NULL, "
    "PRIMARY KEY (version))",
)
_TYPES = {"sqlite": {"double": "DOUBLE", "audit_id": "INTEGER"},
          "postgresql": {"double": "DOUBLE PRECISION", "audit_id": "BIGSERIAL"}}

# The audit log is append-only in the database itself, not just by the absence of an update method.
_SQLITE_AUDIT_GUARD = (
    "CREATE TRIGGER IF NOT EXISTS bot_audit_no_update BEFORE UPDATE ON bot_audit "
    "BEGIN SELECT RAISE(ABORT, 'bot_audit is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS bot_audit_no_delete BEFORE DELETE ON bot_audit "
    "BEGIN SELECT RAISE(ABORT, 'bot_audit is append-only'); END",
)
_PG_AUDIT_GUARD = (
    "CREATE OR REPLACE FUNCTION bot_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'bot_audit is append-only'; END $$",
    "DROP TRIGGER IF EXISTS bot_audit_append_only ON bot_audit",
    "CREATE TRIGGER bot_audit_append_only BEFORE UPDATE OR DELETE ON bot_audit "
    "FOR EACH ROW EXECUTE FUNCTION bot_audit_append_only()",
)

# -- the statements ------------------------------------------------------------------------------------------------
# Written once, run with parameters. The states are spelled into the text: 'in_progress' and 'done' (IN_PROGRESS,
# DONE) for seen events, 'sending' (SENDING) for an intent not yet settled.
AUDIT_COLUMNS = ("id", "approval_id", "action", "operator", "outcome", "approval_type", "reason", "code", "log_id",
                 "message", "at")

# Always update (to a no-op unless takeable) so RETURNING answers in the same round trip.
CLAIM = Statement(
    "INSERT INTO bot_seen_events (\"key\", state, expires, owner) VALUES (:key, 'in_progress', :expires, :owner) "
    'ON CONFLICT ("key") DO UPDATE SET '
    "owner = CASE WHEN bot_seen_events.state = 'in_progress' AND bot_seen_events.expires <= :now "
    "THEN excluded.owner ELSE bot_seen_events.owner END, "
    "expires = CASE WHEN bot_seen_events.state = 'in_progress' AND bot_seen_events.expires <= :now "
    "THEN excluded.expires ELSE bot_seen_events.expires END "
    "RETURNING bot_seen_events.state, bot_seen_events.owner")
FINISH = Statement(
    "INSERT INTO bot_seen_events (\"key\", state, expires, owner) VALUES (:key, 'done', :now, '') "
    "ON CONFLICT (\"key\") DO UPDATE SET state = 'done', expires = :now")
IS_DONE = Statement("SELECT \"key\" FROM bot_seen_events WHERE \"key\" = :key AND state = 'done'")
RELEASE = Statement("DELETE FROM bot_seen_events WHERE \"key\" = :key AND state = 'in_progress'")
_TAKE = ("INSERT INTO bot_locks (name, owner, expires) VALUES (:name, :owner, :expires) "
         "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires = excluded.expires "
         "WHERE bot_locks.expires <= :now")
LEASE = Statement(_TAKE + " RETURNING bot_locks.owner")  # only an expired lease is taken, by anyone
LOCK = Statement(_TAKE + " OR bot_locks.owner = excluded.owner RETURNING bot_locks.owner")  # its owner may extend it
UNLOCK = Statement("DELETE FROM bot_locks WHERE name = :name AND owner = :owner")
INTENT_INSERT = Statement(
    "INSERT INTO bot_intents (intent_id, approval_id, action, operator, state, created, updated, detail) "
    "VALUES (:intent_id, :approval_id, :action, :operator, :state, :created, :updated, :detail) "
    "ON CONFLICT (intent_id) DO NOTHING")
SETTLE = Statement("UPDATE bot_intents SET state = :outcome, updated = :at WHERE intent_id = :settles")
INTENT_COLUMNS = ("intent_id", "approval_id", "action", "operator", "state", "created", "updated", "detail")
OPEN_INTENTS = Statement(
    "SELECT " + ", ".join(INTENT_COLUMNS) + " FROM bot_intents "  # noqa: S608 - this module's own column names
    "WHERE state = 'sending' AND created <= :older_than ORDER BY created, intent_id")
AUDIT_INSERT = Statement(
    "INSERT INTO bot_audit (approval_id, action, operator, outcome, approval_type, reason, code, log_id, message, "
    "at) VALUES (:approval_id, :action, :operator, :outcome, :approval_type, :reason, :code, :log_id, :message, "
    ":at) RETURNING id")
_AUDIT_ROWS = "SELECT " + ", ".join(AUDIT_COLUMNS) + " FROM bot_audit WHERE approval_id = :approval_id"  # noqa: S608
LAST_SUCCESS = Statement(_AUDIT_ROWS + " AND outcome = 'done' ORDER BY id DESC LIMIT 1")
HISTORY = Statement(_AUDIT_ROWS + " ORDER BY id")
COPY_OF = Statement('SELECT "view" FROM bot_card_copies WHERE message_id = :message_id')
REMEMBER_COPY = Statement(
    'INSERT INTO bot_card_copies (message_id, "view", created) VALUES (:message_id, :view, :now) '
    'ON CONFLICT (message_id) DO UPDATE SET "view" = excluded."view"')
CARDS_FOR = Statement("SELECT message_id FROM bot_cards WHERE approval_id = :approval_id ORDER BY created, message_id")
REMEMBER_CARD = Statement("INSERT INTO bot_cards (approval_id, message_id, created) "
                          "VALUES (:approval_id, :message_id, :now) ON CONFLICT (approval_id, message_id) DO NOTHING")
PRUNE_CARDS = Statement(  # all but the newest :kept copies
    "DELETE FROM bot_cards WHERE approval_id = :approval_id AND message_id NOT IN (SELECT message_id FROM bot_cards "
    "WHERE approval_id = :approval_id ORDER BY created DESC, message_id DESC LIMIT :kept)")
SERIAL_UPSERT = Statement(
    "INSERT INTO bot_serials (serial, instance_code, created) VALUES (:serial, :instance_code, :now) "
    "ON CONFLICT (serial) DO UPDATE SET instance_code = excluded.instance_code")
SERIAL_OF = Statement("SELECT instance_code FROM bot_serials WHERE serial = :serial")
REMEMBER_APPROVER = Statement(
    "INSERT INTO bot_approvers (open_id, last_seen) VALUES (:open_id, :last_seen) "
    "ON CONFLICT (open_id) DO UPDATE SET last_seen = excluded.last_seen")
APPROVERS = Statement("SELECT open_id FROM bot_approvers WHERE last_seen >= :seen_since ORDER BY open_id")
REMEMBER_RECORD = Statement(
    "INSERT INTO bot_attendance_records (approval_id, ref, created) VALUES (:approval_id, :ref, :created) "
    "ON CONFLICT (approval_id) DO UPDATE SET ref = excluded.ref, created = excluded.created")
RECORD_REF = Statement("SELECT ref FROM bot_attendance_records WHERE approval_id = :approval_id")
HEALTH_UPSERT = Statement("INSERT INTO bot_locks (name, owner, expires) VALUES (:name, :owner, 0.0) "
                          "ON CONFLICT (name) DO UPDATE SET owner = excluded.owner")
HEALTH_DELETE = Statement("DELETE FROM bot_locks WHERE name = :name")
SWEEP_SEEN = Statement("DELETE FROM bot_seen_events WHERE expires < :horizon")
SWEEP_LOCKS = Statement("DELETE FROM bot_locks WHERE expires < :now")
SWEEP_INTENTS = Statement("DELETE FROM bot_intents WHERE state != 'sending' AND updated < :horizon")
SWEEP_COPIES = Statement("DELETE FROM bot_card_copies WHERE created < :horizon")
SCHEMA_VERSIONS = Statement("SELECT version FROM bot_schema_version ORDER BY version")
ADD_VERSION = Statement("INSERT INTO bot_schema_version (version, applied) VALUES (:version, :applied)")
UNSETTLED_DETAILS = Statement("SELECT intent_id, detail FROM bot_intents WHERE state = 'sending'")
SET_DETAIL = Statement("UPDATE bot_intents SET detail = :detail WHERE intent_id = :intent_id")


def _mark_intents_before_kinds(conn: Connection) -> None:
    """v1 → v2. Intents written before the bot told the kinds of approval apart name the instance code as the
    attendance id they sent to process (docs/feishu.md: the two id spaces have no documented link). Those still
    "sending" are flagged ``"replayable": false``: the reconciler settles them without a lookup or a call and
    says so (handlers/maintenance.py). Settled intents and the audit log (append-only) are history: unchanged."""
    rows = conn.rows(UNSETTLED_DETAILS)
    for intent_id, raw in rows:
        try:
            detail = json.loads(raw)
        except ValueError:
            detail = {}
        if not isinstance(detail, dict):
            detail = {}
        if "kind" in detail:  # written by this version already
            continue
        detail["replayable"] = False
        conn.run(SET_DETAIL, {"detail": json.dumps(detail, ensure_ascii=False), "intent_id": intent_id})


# version reached -> the step that reaches it from the one before, in the schema's one transaction
MIGRATIONS: Mapping[int, Any] = {2: _mark_intents_before_kinds}


@dataclass(frozen=True)
class HealthReport:
    """What /healthz answers: `status` "ok" or "store unavailable"; `store` "ok" or "<check>: <problem>",
    where check is "file" (the SQLite files and their disk) or "write" (a write to the real tables)."""

    ok: bool
    status: str
    store: str

    @classmethod
    def failed(cls, check: str, problem: str) -> HealthReport:
        return cls(False, "store unavailable", f"{check}: {problem}")

    @property
    def http_status(self) -> int:
        return 200 if self.ok else 503

    def body(self) -> dict[str, str]:
        return {"status": self.status, "store": self.store}


def open_store(url: str) -> Store:
    """Open the store at `url` and create its schema. ``sqlite:///path`` (a file) or ``postgresql://…``.

    Raises StoreUnavailable when it cannot be used (e.g. a file the process may not write)."""
    store = Store(database_for(url))
    store.create_schema()
    return store


def database_for(url: str) -> Database:
    """The connection pool for `url`, with nothing opened yet; ValueError for a URL the store cannot use."""
    backend, _, rest = url.partition("://")
    backend = backend.split("+", 1)[0].lower()
    if backend == "sqlite":
        database = urlsplit(f"sqlite://{rest}").path[1:] if rest.startswith("/") else ""
        if database in ("", ":memory:") or "mode=memory" in url or database.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite store is not shared across threads or workers: use a file path")
        return _sqlite_database(Path(database).resolve())
    if backend in ("postgresql", "postgres") and rest:
        return _postgresql_database(f"postgresql://{rest}")
    raise ValueError(f"unsupported store backend {backend!r}: expected sqlite or postgresql")


def hide_password(url: str) -> str:
    """`url` as it may be shown: any password replaced by ***."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"
    return urlunsplit(parts._replace(netloc=netloc))


def open_store_or_exit(url: str) -> Store:
    """open_store for start-up: a store that cannot be used ends the process with one line naming the problem
    (a worker that went on would fail every request, or die of SIGBUS on an unwritable WAL memory map)."""
    try:
        return open_store(url)
    except StoreUnavailable as err:
        raise SystemExit(f"approval-bot: store unavailable: {err.path or hide_password(url)}: {err.problem}") from None


def _sqlite_database(path: Path) -> Database:
    found = file_problem(path)
    if found is not None:
        raise StoreUnavailable(found.describe(), str(found.path))
    path.touch(exist_ok=True)  # an empty file is an empty database; from here on it is never created again
    # mode=rw: a database file deleted under a running bot must fail, not be silently re-created empty.
    uri = f"file:{quote(str(path))}?mode=rw"

    def connect() -> sqlite3.Connection:
        if not path.exists():
            raise StoreUnavailable("database file missing", str(path))
        # isolation_level None: sqlite3 starts no transactions of its own; the store says BEGIN (bot/database.py)
        raw = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False, isolation_level=None)
        try:
            raw.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
            _enable_wal(raw)
            raw.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL mode
        except BaseException:
            raw.close()
            raise
        return raw

    # A pooled connection keeps a deleted file's inode open and would write to it unseen: the file is checked at
    # every checkout (one stat), and a connection whose file is gone or replaced is dropped.
    return Database("sqlite", connect, size=5, overflow=20, timeout_s=POOL_TIMEOUT_S, path=path,
                    tag=functools.partial(_file_id, path), valid=lambda opened_on: _file_id(path) == opened_on)


def _postgresql_database(conninfo: str) -> Database:
    import psycopg  # only a PostgreSQL store loads it (docs/serving.md, "Memory and start-up")

    def connect() -> Any:
        return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)

    # 16 connections per worker, 24 in a burst, for its 32 threads (docs/serving.md, "The store's connections")
    return Database("postgresql", connect, size=16, overflow=8, timeout_s=POOL_TIMEOUT_S, recycle_s=PG_RECYCLE_S,
                    ping_after_s=PG_PING_AFTER_S)


@dataclass(frozen=True)
class FileProblem:
    path: Path
    role: str  # "directory", "database file", "-wal file", "-shm file"; "" for the disk as a whole
    problem: str

    def describe(self) -> str:
        """Without the path: what /healthz may show anyone."""
        return f"{self.role} {self.problem}" if self.role else self.problem


def file_problem(path: Path) -> FileProblem | None:
    """Why a SQLite store at `path` cannot work, checked without opening it; None when it can.

    WAL needs to write the database, its -wal and -shm files and their directory (it creates and deletes the
    side files), and maps -shm into memory: a write there that the disk refuses is a SIGBUS, not an error."""
    directory = path.parent
    if not directory.is_dir():
        return FileProblem(directory, "directory", "missing")
    if not os.access(directory, os.W_OK | os.X_OK):
        return FileProblem(directory, "directory", "not writable (WAL creates its -wal and -shm files there)")
    for name, role in ((path, "database file"), (Path(f"{path}-wal"), "-wal file"),
                       (Path(f"{path}-shm"), "-shm file")):
        if name.exists() and not name.is_file():
            return FileProblem(name, role, "not a regular file")
        if name.exists() and not os.access(name, os.R_OK | os.W_OK):
            return FileProblem(name, role, "not writable (fix its owner or mode)")
    free = _free_bytes(directory)
    if free is not None and free < MIN_FREE_BYTES:
        return FileProblem(directory, "", f"disk full ({free // 1024} KiB free)")
    return None


def _free_bytes(directory: Path) -> int | None:
    try:
        stats = os.statvfs(directory)
    except OSError:
        return None
    return stats.f_bavail * stats.f_frsize


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


# SQLite primary result codes (the low byte of sqlite_errorcode) and PostgreSQL SQLSTATEs, as /healthz says them.
_SQLITE_PROBLEMS = {3: "permission denied", 5: "locked past its timeout", 6: "locked past its timeout",
                    8: "read-only", 10: "I/O error", 11: "database file corrupt", 13: "disk full",
                    14: "cannot open the database file", 26: "not a database file"}
_PG_PROBLEMS = {"53100": "disk full", "53200": "out of memory", "25006": "read-only",
                "55P03": "locked past its timeout", "57014": "timed out", "57P01": "server shutting down",
                "57P03": "server starting up"}
def storage_problem(err: BaseException) -> str | None:
    """The short problem a driver error means for the store, or None when it is a bug rather than storage."""
    if isinstance(err, PoolTimeout):
        return "no free connection in the pool"
    if isinstance(err, not_storage_errors()) or not isinstance(err, (*driver_errors(), OSError)):
        return None
    code = getattr(err, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_PROBLEMS:
        return _SQLITE_PROBLEMS[code & 0xFF]
    if "no such table" in str(err):
        return "tables missing (database file replaced?)"
    state = getattr(err, "sqlstate", None)
    if isinstance(state, str):
        return _PG_PROBLEMS.get(state) or ("unreachable" if state.startswith("08") else f"SQLSTATE {state}")
    if isinstance(err, OSError):
        return f"I/O error ({err.strerror or type(err).__name__})"
    return "unreachable" if isinstance(err, connection_errors()) else "database error"


@contextmanager
def _storage_errors() -> Iterator[None]:
    """Turn every storage failure into StoreUnavailable; bugs (constraint violations, bad SQL) pass as they are."""
    try:
        yield
    except StoreUnavailable:
        raise
    except Exception as err:
        problem = storage_problem(err)
        if problem is None:
            raise
        raise StoreUnavailable(problem) from err


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL once. The switch ignores the busy timeout ("database is locked" at once when several
    workers open a new file together), so it is retried here, bounded by the same timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
                return
            if cursor.execute("PRAGMA journal_mode = WAL").fetchone()[0] == "wal":
                return
        except sqlite3.OperationalError as err:
            if getattr(err, "sqlite_errorcode", 5) & 0xFF not in (5, 6):  # only "busy" or "locked" is worth a retry
                raise
        if time.monotonic() > deadline:
            raise StoreUnavailable("could not switch to WAL mode (a network file system?)")
        time.sleep(0.02)


def _audit_values(record: AuditRecord) -> dict[str, Any]:
    return {
        "approval_id": record.approval_id, "action": record.action, "operator": record.operator,
        "outcome": record.outcome, "approval_type": record.approval_type, "reason": record.reason,
        "code": record.code, "log_id": record.log_id, "message": record.message, "at": record.at,
    }


def _audit_record(row: tuple[Any, ...]) -> AuditRecord:
    return AuditRecord(**dict(zip(AUDIT_COLUMNS, row, strict=True)))


def _after_fork_in_child(ref: weakref.ref[Store]) -> None:
    store = ref()
    if store is not None:
        store.after_fork()


class Store:
    """All shared state of the bot. Thread-safe; one instance per process (see `after_fork`)."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._dialect = database.dialect
        os.register_at_fork(after_in_child=functools.partial(_after_fork_in_child, weakref.ref(self)))
        self._writer_lock = threading.Lock()
        self._serials: OrderedDict[str, str] = OrderedDict()
        self._serials_lock = threading.Lock()
        self.round_trips = 0  # store transactions in this process (tests assert the count per click)
        self.writes = 0  # of which write transactions
        self._reads = metrics.STORE_ROUND_TRIPS.labels("read")
        self._writes = metrics.STORE_ROUND_TRIPS.labels("write")

    @property
    def database(self) -> Database:
        """The connection pool (tests look at the statements it runs)."""
        return self._db

    # -- plumbing ------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self, single: bool = False) -> Iterator[Connection]:
        """A write transaction. `single`: one atomic statement, run without BEGIN/COMMIT.

        On SQLite the threads of one process queue on a lock of their own first: SQLite's busy handler would
        make them sleep in steps of up to 100 ms, which is what made the tails long under load."""
        self.round_trips += 1
        self.writes += 1
        self._writes.inc()
        with _storage_errors(), self._local_writers(BUSY_TIMEOUT_S), self._db.connect() as conn:
            if single:  # SQLite makes each statement atomic by itself; skipping BEGIN halves the lock's time
                yield conn
                return
            # IMMEDIATE takes SQLite's write lock up front: a deferred transaction that upgrades later can fail
            # with SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry.
            with conn.transaction(immediate=True):
                yield conn

    @contextmanager
    def _local_writers(self, timeout_s: float) -> Iterator[None]:
        if self._dialect != "sqlite":
            yield
            return
        # Bounded like SQLite's own busy timeout: a writer stuck behind a hung one fails instead of queueing on.
        if not self._writer_lock.acquire(timeout=timeout_s):
            raise StoreUnavailable("locked past its timeout")
        try:
            yield
        finally:
            self._writer_lock.release()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One SELECT: autocommit, no transaction round trips (WAL readers never wait for writers)."""
        self.round_trips += 1
        self._reads.inc()
        with _storage_errors(), self._db.connect() as conn:
            yield conn

    def create_schema(self) -> None:
        """Create the tables if missing (idempotent, safe when several workers start at once)."""
        with self._write() as conn:
            if self._dialect == "postgresql":
                conn.execute(f"SELECT pg_advisory_xact_lock({_PG_SCHEMA_LOCK})")
            for statement in _TABLES:
                conn.execute(statement.format(**_TYPES[self._dialect]))
            versions = [row[0] for row in conn.rows(SCHEMA_VERSIONS)]
            version = versions[-1] if versions else None
            if version is None:
                for statement in _PG_AUDIT_GUARD if self._dialect == "postgresql" else _SQLITE_AUDIT_GUARD:
                    conn.execute(statement)
                conn.run(ADD_VERSION, {"version": SCHEMA_VERSION, "applied": time.time()})
            elif version > SCHEMA_VERSION:
                raise RuntimeError(f"store schema v{version} is newer than this code (v{SCHEMA_VERSION})")
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):  # under the same lock: one worker migrates
                    MIGRATIONS[step](conn)
                    conn.run(ADD_VERSION, {"version": step, "applied": time.time()})

    def ping(self) -> bool:
        try:
            with self._db.connect() as conn:
                conn.rows("SELECT 1")
            return True
        except (*driver_errors(), PoolTimeout, StoreUnavailable, OSError):
            return False

    def health(self) -> HealthReport:
        """Whether the store works now: its files (SQLite), then a write to the real tables within
        HEALTH_TIMEOUT_S (a row upserted and deleted in one transaction). Never raises."""
        path = self._db.path
        if path is not None:
            found = file_problem(path)
            if found is not None:
                return HealthReport.failed("file", found.describe())
            if not path.exists():
                return HealthReport.failed("file", "database file missing")
        try:
            self._write_probe()
        except StoreUnavailable as err:
            return HealthReport.failed("write", err.problem)
        except Exception as err:  # noqa: BLE001 - health must answer whatever went wrong
            return HealthReport.failed("write", type(err).__name__)
        return HealthReport(True, "ok", "ok")

    def _write_probe(self) -> None:
        name = f"health:{os.getpid()}:{threading.get_ident()}"
        millis = int(HEALTH_TIMEOUT_S * 1000)
        with _storage_errors(), self._local_writers(HEALTH_TIMEOUT_S), self._db.connect() as conn:
            with self._sqlite_busy_timeout(conn, millis), conn.transaction(immediate=True):
                if self._dialect == "postgresql":
                    conn.execute(f"SET LOCAL statement_timeout = {millis}")
                    conn.execute(f"SET LOCAL lock_timeout = {millis}")
                conn.run(HEALTH_UPSERT, {"name": name, "owner": "h" * _HEALTH_ROW_BYTES})
                conn.run(HEALTH_DELETE, {"name": name})

    @contextmanager
    def _sqlite_busy_timeout(self, conn: Connection, millis: int) -> Iterator[None]:
        """A shorter busy timeout on this pooled connection for a while, so that it holds for the BEGIN
        IMMEDIATE that follows."""
        if self._dialect != "sqlite":
            yield
            return
        conn.execute(f"PRAGMA busy_timeout = {millis}")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def after_fork(self) -> None:
        """In a forked worker: forget (never close) the connections inherited from the parent. Idempotent;
        runs by itself after os.fork, and gunicorn's post_fork may call it again."""
        self._db.after_fork()
        self._writer_lock = threading.Lock()  # another thread of the parent may have held it at fork time

    def close(self) -> None:
        self._db.dispose()

    # -- seen events (claims) --------------------------------------------------------------------------------

    def claim(self, key: str, lease_s: float, now: float) -> ClaimResult:
        """Atomically claim `key` for `lease_s` seconds: one statement, one transaction.

        A re-delivery of a finished event is answered by a read, without queueing for the write lock."""
        with self._read() as conn:
            if conn.first(IS_DONE, {"key": key}) is not None:
                return ClaimResult.DONE
        token = uuid.uuid4().hex
        with self._write(single=True) as conn:
            state, owner = conn.rows(CLAIM, {"key": key, "expires": now + lease_s, "owner": token, "now": now})[0]
        if owner == token:
            return ClaimResult.NEW
        return ClaimResult.DONE if state == DONE else ClaimResult.BUSY

    def claim_click(self, key: str, lease_s: float, now: float, message_id: str) -> tuple[ClaimResult,
                                                                                        dict[str, Any] | None]:
        """`claim` for a card callback, and the clicked message's copy view (`copy_of`), in one round trip.

        No read first: Feishu never re-sends a callback, so a duplicate is rare and a new click would pay for
        the read (docs/architecture.md, "The path of one click")."""
        token = uuid.uuid4().hex
        with self._write(single=True) as conn:
            state, owner = conn.rows(CLAIM, {"key": key, "expires": now + lease_s, "owner": token, "now": now})[0]
            view = conn.scalar(COPY_OF, {"message_id": message_id}) if message_id else None
        result = ClaimResult.NEW if owner == token else ClaimResult.DONE if state == DONE else ClaimResult.BUSY
        return result, json.loads(view) if view is not None else None

    def finish(self, key: str, now: float) -> None:
        """Mark `key` processed; later deliveries get DONE until `sweep` forgets it."""
        with self._write(single=True) as conn:
            conn.run(FINISH, {"key": key, "now": now})

    def release(self, key: str) -> None:
        """Processing failed: drop the claim so a re-delivery processes the event. A done key stays done."""
        with self._write(single=True) as conn:
            conn.run(RELEASE, {"key": key})

    def sweep(self, now: float, keep_s: float = 48 * 3600) -> int:
        """Forget seen events older than `keep_s` (≥ Feishu's 7.1 h retry window), expired locks and
        leases, and settled intents; returns how many seen events were deleted."""
        horizon = now - keep_s
        with self._write() as conn:
            deleted = conn.run(SWEEP_SEEN, {"horizon": horizon})
            conn.run(SWEEP_LOCKS, {"now": now})
            conn.run(SWEEP_INTENTS, {"horizon": horizon})
            conn.run(SWEEP_COPIES, {"horizon": now - COPY_KEEP_S})
        return deleted

    def count_seen(self) -> int:
        with self._read() as conn:
            return int(conn.scalar("SELECT count(*) FROM bot_seen_events") or 0)

    # -- locks and leases ------------------------------------------------------------------------------------

    def _take(self, statement: Statement, name: str, owner: str, expires: float, now: float) -> bool:
        with self._write(single=True) as conn:
            row = conn.first(statement, {"name": name, "owner": owner, "expires": expires, "now": now})
        return row is not None

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        """Take the lock `name` for `ttl_s` s; an expired lock is taken over, the same owner may extend it."""
        return self._take(LOCK, name, owner, now + ttl_s, now)

    def release_lock(self, name: str, owner: str) -> bool:
        """Compare-and-delete: only the owner's own lock goes (not one taken over after it expired)."""
        with self._write(single=True) as conn:
            return conn.run(UNLOCK, {"name": name, "owner": owner}) == 1

    def take_lease(self, name: str, owner: str, until: float, now: float) -> bool:
        """True for exactly one caller per `name` until `until` passes (e.g. "digest:2026-11-25").

        Pass an `until` later than anyone will ask for that name; after it the lease may be taken again."""
        return self._take(LEASE, name, owner, until, now)

    # -- intents (T10) -----------------------------------------------------------------------------------------

    def record_intent(
        self, intent_id: str, approval_id: str, action: str, operator: str, now: float,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write down an action about to be sent (state "sending"), before the process call."""
        values = self._intent_values(Intent(intent_id, approval_id, action, operator, detail or {}), now)
        with self._write(single=True) as conn:
            conn.run(INTENT_INSERT, values)

    def begin_action(self, lock: str, owner: str, ttl_s: float, now: float, intent: Intent,
                     fresh_since: float) -> ActionStart:
        """Before the Feishu call, one transaction: take the approval's `lock` (as `acquire_lock`), read its last
        success and, unless that is at or after `fresh_since` (someone acted after the lookup the decision rests
        on), write `intent` (as `record_intent`). Nothing is written when the lock is held."""
        with self._write() as conn:
            if conn.first(LOCK, {"name": lock, "owner": owner, "expires": now + ttl_s, "now": now}) is None:
                return ActionStart(False)
            row = conn.first(LAST_SUCCESS, {"approval_id": intent.approval_id})
            previous = _audit_record(row) if row is not None else None
            if previous is not None and previous.at >= fresh_since:
                return ActionStart(True, previous, False)
            conn.run(INTENT_INSERT, self._intent_values(intent, now))
        return ActionStart(True, previous, True)

    def end_action(self, record: AuditRecord, *, settles: str = "", lock: str = "", owner: str = "",
                   claim: str = "", serial: tuple[str, str] | None = None) -> int:
        """After the Feishu call, one transaction: append `record` (settling the intent `settles`), release the
        lock `lock` if `owner` still holds it, mark the delivery `claim` done, and remember `serial` (serial
        number, instance code) unless this process knows the pair: the card about to show it costs no more."""
        serial = serial if serial is not None and not self.knows_serial(*serial) else None
        with self._write() as conn:
            if settles:
                conn.run(SETTLE, {"settles": settles, "outcome": record.outcome, "at": record.at})
            found = int(conn.scalar(AUDIT_INSERT, _audit_values(record)))
            if lock:
                conn.run(UNLOCK, {"name": lock, "owner": owner})
            if claim:
                conn.run(FINISH, {"key": claim, "now": record.at})
            if serial is not None:
                conn.run(SERIAL_UPSERT, {"serial": serial[0], "instance_code": serial[1], "now": record.at})
        if serial is not None:
            self._known_serial(*serial)
        return found

    @staticmethod
    def _intent_values(intent: Intent, now: float) -> dict[str, Any]:
        return {"intent_id": intent.intent_id, "approval_id": intent.approval_id, "action": intent.action,
                "operator": intent.operator, "state": SENDING, "created": now, "updated": now,
                "detail": json.dumps(dict(intent.detail), ensure_ascii=False)}

    def finish_intent(self, intent_id: str, outcome: str, now: float) -> None:
        with self._write(single=True) as conn:
            conn.run(SETTLE, {"settles": intent_id, "outcome": outcome, "at": now})

    def open_intents(self, older_than: float) -> list[dict[str, Any]]:
        """Intents still "sending" that were recorded at or before `older_than`, oldest first."""
        with self._read() as conn:
            rows = conn.rows(OPEN_INTENTS, {"older_than": older_than})
        return [{**dict(zip(INTENT_COLUMNS, row, strict=True)), "detail": json.loads(row[-1])} for row in rows]

    # -- approvers (daily digest) ---------------------------------------------------------------------------------

    def remember_approvers(self, open_ids: list[str], now: float) -> None:
        rows = [{"open_id": o, "last_seen": now} for o in dict.fromkeys(open_ids) if o]
        if not rows:
            return
        with self._write() as conn:
            conn.run_many(REMEMBER_APPROVER, rows)

    def approvers(self, seen_since: float) -> list[str]:
        with self._read() as conn:
            return [row[0] for row in conn.rows(APPROVERS, {"seen_since": seen_since})]

    # -- cards ---------------------------------------------------------------------------------------------------

    def remember_card(self, approval_id: str, message_id: str, now: float) -> None:
        """A card the bot sent for this approval; of its copies only the newest CARDS_KEPT are kept."""
        with self._write() as conn:
            conn.run(REMEMBER_CARD, {"approval_id": approval_id, "message_id": message_id, "now": now})
            conn.run(PRUNE_CARDS, {"approval_id": approval_id, "kept": CARDS_KEPT})

    def cards_for(self, approval_id: str) -> list[str]:
        with self._read() as conn:
            return [row[0] for row in conn.rows(CARDS_FOR, {"approval_id": approval_id})]

    def remember_copy(self, message_id: str, view: Mapping[str, Any], now: float) -> None:
        """Who this message was sent to and what it shows (the latest wins: a list turns to its next page)."""
        with self._write(single=True) as conn:
            conn.run(REMEMBER_COPY, {"message_id": message_id, "view": json.dumps(dict(view)), "now": now})

    def copy_of(self, message_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            view = conn.scalar(COPY_OF, {"message_id": message_id})
        return json.loads(view) if view is not None else None

    # -- serial numbers --------------------------------------------------------------------------------------------

    def remember_serial(self, serial: str, instance_code: str, now: float) -> None:
        with self._write(single=True) as conn:
            conn.run(SERIAL_UPSERT, {"serial": serial, "instance_code": instance_code, "now": now})
        self._known_serial(serial, instance_code)

    def instance_for_serial(self, serial: str) -> str | None:
        """The instance a serial number names. Feishu gives every instance its own serial, so a pair once read
        or written stays true: the newest SERIALS_KNOWN are answered from memory (every card shows its serial,
        and checking it is known must not cost a click a round trip)."""
        with self._serials_lock:
            known = self._serials.get(serial)
        if known is not None:
            return known
        with self._read() as conn:
            found = conn.scalar(SERIAL_OF, {"serial": serial})
        if found is not None:
            self._known_serial(serial, found)
        return found

    def knows_serial(self, serial: str, instance_code: str) -> bool:
        """Whether this process already knows the pair (from memory only: never a round trip)."""
        with self._serials_lock:
            return self._serials.get(serial) == instance_code

    def _known_serial(self, serial: str, instance_code: str) -> None:
        with self._serials_lock:
            self._serials[serial] = instance_code
            self._serials.move_to_end(serial)
            while len(self._serials) > SERIALS_KNOWN:
                self._serials.popitem(last=False)

    # -- audit -----------------------------------------------------------------------------------------------------

    def append_audit(self, record: AuditRecord, *, settles: str = "") -> int:
        """Append `record`; with `settles`, also mark that intent with the record's outcome, atomically."""
        with self._write(single=not settles) as conn:
            if settles:
                conn.run(SETTLE, {"settles": settles, "outcome": record.outcome, "at": record.at})
            return int(conn.scalar(AUDIT_INSERT, _audit_values(record)))

    def history(self, approval_id: str) -> list[AuditRecord]:
        """Every record for `approval_id`, in the order they were appended."""
        with self._read() as conn:
            return [_audit_record(row) for row in conn.rows(HISTORY, {"approval_id": approval_id})]

    # -- attendance records found ----------------------------------------------------------------------------------

    def remember_records(self, refs: Mapping[str, Mapping[str, Any]], now: float) -> None:
        """Attendance records found (approval_id → type, requester, day), in one transaction."""
        if not refs:
            return
        rows = [{"approval_id": k, "ref": json.dumps(dict(v)), "created": now} for k, v in refs.items()]
        with self._write(single=len(rows) == 1) as conn:
            conn.run_many(REMEMBER_RECORD, rows)

    def record_ref(self, approval_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            ref = conn.scalar(RECORD_REF, {"approval_id": approval_id})
        return json.loads(ref) if ref is not None else None

    def last_success(self, approval_id: str) -> AuditRecord | None:
        with self._read() as conn:
            row = conn.first(LAST_SUCCESS, {"approval_id": approval_id})
        return _audit_record(row) if row is not None else None
