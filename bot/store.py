"""The shared store: seen events (claims), in-flight locks and leases, action intents, card registry, audit log.

One implementation on SQLAlchemy Core for two dialects:
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
harmless. A checkout guard also refuses any pooled connection opened by another process, as a second line.
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
from urllib.parse import quote

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Double,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Table,
    Text,
    and_,
    bindparam,
    case,
    create_engine,
    delete,
    event,
    exc,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import make_url

from bot import metrics
from core.errors import StoreUnavailable
from core.records import ActionStart, AuditRecord, ClaimResult, Intent

SCHEMA_VERSION = 2  # the steps from each older version: MIGRATIONS, below the tables
BUSY_TIMEOUT_S = 10.0  # SQLite: how long a writer waits for another process's write lock
HEALTH_TIMEOUT_S = 2.0  # /healthz's write probe gives up after this (an orchestrator's probe waits a few seconds)
CARDS_KEPT = 20  # copies of one approval's card that are updated on each change: the newest (bounds the fan-out)
SERIALS_KNOWN = 4096  # serial → instance pairs answered from memory (a few hundred KB at most)
MIN_FREE_BYTES = 1024 * 1024  # less free space than this beside a SQLite store counts as a full disk
_HEALTH_ROW_BYTES = 8192  # the probe row needs new (overflow) pages: a full database cannot pass it
_PG_SCHEMA_LOCK = 0x61707062  # pg_advisory_xact_lock key: serializes schema creation across workers

_INHERITED: list[Any] = []  # pools and connections of a parent process: never used, never closed, here

IN_PROGRESS = "in_progress"
DONE = "done"
SENDING = "sending"

metadata = MetaData()

# key: "evt:<event_id>", "msg:<message_id>", "legacy:<nonce>:<ts>". expires: lease end while in_progress,
# the finish time once done. owner: a random token per successful claim (tells the claimer it won).
seen_events = Table(
    "bot_seen_events", metadata,
    Column("key", Text, primary_key=True),
    Column("state", Text, nullable=False),
    Column("expires", Double, nullable=False),
    Column("owner", Text, nullable=False),
    Index("ix_bot_seen_events_expires", "expires"),
)
# In-flight locks and one-shot leases share one table: a row is held until `expires`.
locks = Table(
    "bot_locks", metadata,
    Column("name", Text, primary_key=True),
    Column("owner", Text, nullable=False),
    Column("expires", Double, nullable=False),
)
intents = Table(
    "bot_intents", metadata,
    Column("intent_id", Text, primary_key=True),
    Column("approval_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("operator", Text, nullable=False),
    Column("state", Text, nullable=False),
    Column("created", Double, nullable=False),
    Column("updated", Double, nullable=False),
    Column("detail", Text, nullable=False),
    Index("ix_bot_intents_state_created", "state", "created"),
)
cards = Table(
    "bot_cards", metadata,
    Column("approval_id", Text, nullable=False),
    Column("message_id", Text, nullable=False),
    Column("created", Double, nullable=False),
    PrimaryKeyConstraint("approval_id", "message_id"),
)
# Who each card copy was sent to and what it shows, so that an update renders it again for that reader.
# view: JSON {"kind": "approval" | "pending", "recipient": open_id or "", "shared": bool, …}.
card_copies = Table(
    "bot_card_copies", metadata,
    Column("message_id", Text, primary_key=True),
    Column("view", Text, nullable=False),
    Column("created", Double, nullable=False),
)
COPY_KEEP_S = 14 * 86_400  # a sent card can be PATCHed for 14 days (docs/feishu.md): then it follows nothing
# Serial numbers the bot has shown on a card: what people type back into commands.
serials = Table(
    "bot_serials", metadata,
    Column("serial", Text, primary_key=True),
    Column("instance_code", Text, nullable=False),
    Column("created", Double, nullable=False),
)
audit = Table(
    "bot_audit", metadata,
    # BIGINT identity on PostgreSQL; INTEGER PRIMARY KEY (the rowid) on SQLite.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("approval_id", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("operator", Text, nullable=False),
    Column("outcome", Text, nullable=False),
    Column("approval_type", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("code", BigInteger, nullable=True),
    Column("log_id", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("at", Double, nullable=False),
    Index("ix_bot_audit_approval_id", "approval_id", "id"),
)
# Approvers the bot has seen holding a task: who gets the daily digest of their pending approvals.
approvers = Table(
    "bot_approvers", metadata,
    Column("open_id", Text, primary_key=True),
    Column("last_seen", Double, nullable=False),
)
# Attendance records the bot has found (handlers/records.py): which type, whose and which day, so that an id typed
# or clicked later is looked up for that requester and day alone, with no team-wide search.
attendance_records = Table(
    "bot_attendance_records", metadata,
    Column("approval_id", Text, primary_key=True),
    Column("ref", Text, nullable=False),
    Column("created", Double, nullable=False),
)
schema_version = Table(
    "bot_schema_version", metadata,
    Column("version", Integer, primary_key=True),
    Column("applied", Double, nullable=False),
)

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


def _mark_intents_before_kinds(conn: Connection) -> None:
    """v1 → v2. Intents written before the bot told the kinds of approval apart name the instance code as the
    attendance id they sent to process (docs/feishu.md: the two id spaces have no documented link). Those still
    "sending" are flagged ``"replayable": false``: the reconciler settles them without a lookup or a call and
    says so (handlers/maintenance.py). Settled intents and the audit log (append-only) are history: unchanged."""
    rows = conn.execute(select(intents.c.intent_id, intents.c.detail).where(intents.c.state == SENDING)).all()
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
        conn.execute(update(intents).where(intents.c.intent_id == intent_id)
                     .values(detail=json.dumps(detail, ensure_ascii=False)))


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
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed) or database.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite store is not shared across threads or workers: use a file path")
        engine = _sqlite_engine(parsed.set(database=str(Path(database).resolve())))
    elif backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        # 16 connections per worker, 24 in a burst, for its 32 threads (docs/serving.md, "The store's connections")
        engine = create_engine(
            parsed, pool_size=16, max_overflow=8, pool_pre_ping=True, pool_recycle=1800,
            connect_args={"connect_timeout": 5},
        )
    else:
        raise ValueError(f"unsupported store backend {backend!r}: expected sqlite or postgresql")
    _guard_against_fork(engine)
    store = Store(engine)
    store.create_schema()
    return store


def _upsert_for(dialect: str) -> Any:
    """The dialect's INSERT with ON CONFLICT. PostgreSQL's module is imported only for a PostgreSQL store (its
    engine loaded it already): a SQLite process never holds it (docs/serving.md, "Memory and start-up")."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert

        return insert
    return sqlite.insert


def open_store_or_exit(url: str) -> Store:
    """open_store for start-up: a store that cannot be used ends the process with one line naming the problem
    (a worker that went on would fail every request, or die of SIGBUS on an unwritable WAL memory map)."""
    try:
        return open_store(url)
    except StoreUnavailable as err:
        where = err.path or make_url(url).render_as_string(hide_password=True)
        raise SystemExit(f"approval-bot: store unavailable: {where}: {err.problem}") from None


def _sqlite_engine(url: Any) -> Engine:
    path = Path(url.database)
    found = file_problem(path)
    if found is not None:
        raise StoreUnavailable(found.describe(), str(found.path))
    path.touch(exist_ok=True)  # an empty file is an empty database; from here on it is never created again
    # mode=rw: a database file deleted under a running bot must fail, not be silently re-created empty.
    uri = f"file:{quote(str(path))}?mode=rw"

    def connect() -> sqlite3.Connection:
        if not path.exists():
            raise StoreUnavailable("database file missing", str(path))
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, check_same_thread=False)

    engine = create_engine(url, creator=connect, pool_size=5, max_overflow=20)
    _configure_sqlite(engine)
    _guard_against_replaced_file(engine, path)
    return engine


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


def _guard_against_replaced_file(engine: Engine, path: Path) -> None:
    """A pooled connection keeps the deleted file's inode open and would write to it unseen: check the file
    at every checkout (one stat) and drop connections whose file is gone or replaced."""

    @event.listens_for(engine, "connect")
    def _remember_file(_dbapi_connection: Any, record: Any) -> None:
        record.info["file_id"] = _file_id(path)

    @event.listens_for(engine, "checkout")
    def _check_file(_dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if _file_id(path) != record.info.get("file_id"):
            raise exc.DisconnectionError("database file missing or replaced")


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
_NOT_STORAGE = (exc.IntegrityError, exc.ProgrammingError, exc.DataError, exc.NotSupportedError)


def storage_problem(err: BaseException) -> str | None:
    """The short problem a driver error means for the store, or None when it is a bug rather than storage."""
    if isinstance(err, exc.TimeoutError):
        return "no free connection in the pool"
    if isinstance(err, _NOT_STORAGE) or not isinstance(err, exc.DBAPIError | sqlite3.Error | OSError):
        return None
    cause = getattr(err, "orig", None) or err
    code = getattr(cause, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF in _SQLITE_PROBLEMS:
        return _SQLITE_PROBLEMS[code & 0xFF]
    if "no such table" in str(cause):
        return "tables missing (database file replaced?)"
    state = getattr(cause, "sqlstate", None)
    if isinstance(state, str):
        return _PG_PROBLEMS.get(state) or ("unreachable" if state.startswith("08") else f"SQLSTATE {state}")
    if isinstance(cause, OSError):
        return f"I/O error ({cause.strerror or type(cause).__name__})"
    return "unreachable" if isinstance(err, exc.OperationalError | exc.InterfaceError) else "database error"


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


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # We emit BEGIN ourselves (below), so sqlite3's own implicit transactions are switched off.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL mode
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # IMMEDIATE takes the write lock up front: a deferred transaction that upgrades later can fail with
        # SQLITE_BUSY_SNAPSHOT, which the busy timeout does not retry. Single statements run in autocommit:
        # SQLite makes each one atomic by itself, and skipping BEGIN/COMMIT halves the time the lock is held.
        options = conn.get_execution_options()
        if options.get("isolation_level") == "AUTOCOMMIT":
            return
        conn.exec_driver_sql("BEGIN IMMEDIATE" if options.get("bot_write", False) else "BEGIN")


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


def _guard_against_fork(engine: Engine) -> None:
    """Never hand a connection opened in another process (the gunicorn master) to this one."""

    @event.listens_for(engine, "connect")
    def _remember_pid(_dbapi_connection: Any, record: Any) -> None:
        record.info["pid"] = os.getpid()

    @event.listens_for(engine, "checkout")
    def _check_pid(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if record.info.get("pid") != os.getpid():
            _INHERITED.append(dbapi_connection)  # kept alive: its finalizer must not close the parent's session
            record.dbapi_connection = proxy.dbapi_connection = None
            raise exc.DisconnectionError("connection opened in another process")


def _audit_values(record: AuditRecord) -> dict[str, Any]:
    return {
        "approval_id": record.approval_id, "action": record.action, "operator": record.operator,
        "outcome": record.outcome, "approval_type": record.approval_type, "reason": record.reason,
        "code": record.code, "log_id": record.log_id, "message": record.message, "at": record.at,
    }


def _after_fork_in_child(ref: weakref.ref[Store]) -> None:
    store = ref()
    if store is not None:
        store.after_fork()


class Store:
    """All shared state of the bot. Thread-safe; one instance per process (see `after_fork`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        database = engine.url.database if self._dialect == "sqlite" else None
        self._sqlite_path = Path(database).resolve() if database and database != ":memory:" else None
        os.register_at_fork(after_in_child=functools.partial(_after_fork_in_child, weakref.ref(self)))
        self._writer_lock = threading.Lock()
        self._serials: OrderedDict[str, str] = OrderedDict()
        self._serials_lock = threading.Lock()
        self.round_trips = 0  # store transactions in this process (tests assert the count per click)
        self.writes = 0  # of which write transactions
        self._reads = metrics.STORE_ROUND_TRIPS.labels("read")
        self._writes = metrics.STORE_ROUND_TRIPS.labels("write")
        self._insert = _upsert_for(self._dialect)
        # The hot-path statements are built once: building one costs more than running it on SQLite.
        self._claim = self._claim_statement()
        self._finish = self._insert(seen_events).values(
            key=bindparam("key"), state=DONE, expires=bindparam("now", type_=Double), owner=""
        ).on_conflict_do_update(index_elements=[seen_events.c.key], set_={"state": DONE, "expires": bindparam("now")})
        self._is_done = select(seen_events.c.key).where(seen_events.c.key == bindparam("key"),
                                                        seen_events.c.state == DONE)
        self._lock = self._lock_statement(reentrant=True)
        self._lease = self._lock_statement(reentrant=False)
        # The click's statements: built once, run with parameters (building one costs more than running it).
        self._audit_insert = audit.insert().returning(audit.c.id)
        self._settle = (update(intents).where(intents.c.intent_id == bindparam("settles"))
                        .values(state=bindparam("outcome"), updated=bindparam("at")))
        self._unlock = delete(locks).where(locks.c.name == bindparam("name"), locks.c.owner == bindparam("owner"))
        self._intent_insert = self._insert(intents).on_conflict_do_nothing(index_elements=[intents.c.intent_id])
        self._copy_of = select(card_copies.c.view).where(card_copies.c.message_id == bindparam("message_id"))
        self._cards_for = (select(cards.c.message_id).where(cards.c.approval_id == bindparam("approval_id"))
                           .order_by(cards.c.created, cards.c.message_id))
        serial = self._insert(serials).values(serial=bindparam("serial"), instance_code=bindparam("instance_code"),
                                              created=bindparam("now", type_=Double))
        self._serial_upsert = serial.on_conflict_do_update(index_elements=[serials.c.serial],
                                                           set_={"instance_code": serial.excluded.instance_code})
        self._last_success = (select(audit).where(audit.c.approval_id == bindparam("approval_id"),
                                                  audit.c.outcome == DONE).order_by(audit.c.id.desc()).limit(1))

    def _claim_statement(self) -> Any:
        row = seen_events.c
        stmt = self._insert(seen_events).values(
            key=bindparam("key"), state=IN_PROGRESS, expires=bindparam("expires", type_=Double),
            owner=bindparam("owner"),
        )
        takeable = and_(row.state == IN_PROGRESS, row.expires <= bindparam("now", type_=Double))
        # Always update (to a no-op unless takeable) so RETURNING answers in the same round trip.
        return stmt.on_conflict_do_update(
            index_elements=[row.key],
            set_={
                "owner": case((takeable, stmt.excluded.owner), else_=row.owner),
                "expires": case((takeable, stmt.excluded.expires), else_=row.expires),
            },
        ).returning(row.state, row.owner)

    def _lock_statement(self, reentrant: bool) -> Any:
        row = locks.c
        stmt = self._insert(locks).values(
            name=bindparam("name"), owner=bindparam("owner"), expires=bindparam("expires", type_=Double)
        )
        takeable = row.expires <= bindparam("now", type_=Double)
        if reentrant:
            takeable = or_(takeable, row.owner == stmt.excluded.owner)
        return stmt.on_conflict_do_update(
            index_elements=[row.name],
            set_={"owner": stmt.excluded.owner, "expires": stmt.excluded.expires},
            where=takeable,
        ).returning(row.owner)

    # -- plumbing ------------------------------------------------------------------------------------------

    @contextmanager
    def _write(self, single: bool = False) -> Iterator[Connection]:
        """A write transaction. `single`: one atomic statement, run without BEGIN/COMMIT.

        On SQLite the threads of one process queue on a lock of their own first: SQLite's busy handler would
        make them sleep in steps of up to 100 ms, which is what made the tails long under load."""
        self.round_trips += 1
        self.writes += 1
        self._writes.inc()
        with _storage_errors(), self._local_writers(BUSY_TIMEOUT_S), self._engine.connect() as conn:
            if single:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn.execution_options(bot_write=True)  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
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
        with _storage_errors(), self._engine.connect() as conn:
            conn.execution_options(isolation_level="AUTOCOMMIT")
            with conn.begin():
                yield conn

    def create_schema(self) -> None:
        """Create the tables if missing (idempotent, safe when several workers start at once)."""
        with self._write() as conn:
            if self._dialect == "postgresql":
                conn.execute(select(func.pg_advisory_xact_lock(_PG_SCHEMA_LOCK)))
            metadata.create_all(conn)
            version = conn.execute(select(func.max(schema_version.c.version))).scalar()
            if version is None:
                for statement in _PG_AUDIT_GUARD if self._dialect == "postgresql" else _SQLITE_AUDIT_GUARD:
                    conn.exec_driver_sql(statement)
                conn.execute(schema_version.insert().values(version=SCHEMA_VERSION, applied=time.time()))
            elif version > SCHEMA_VERSION:
                raise RuntimeError(f"store schema v{version} is newer than this code (v{SCHEMA_VERSION})")
            else:
                for step in range(version + 1, SCHEMA_VERSION + 1):  # under the same lock: one worker migrates
                    MIGRATIONS[step](conn)
                    conn.execute(schema_version.insert().values(version=step, applied=time.time()))

    def ping(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except (exc.SQLAlchemyError, OSError):
            return False

    def health(self) -> HealthReport:
        """Whether the store works now: its files (SQLite), then a write to the real tables within
        HEALTH_TIMEOUT_S (a row upserted and deleted in one transaction). Never raises."""
        if self._sqlite_path is not None:
            found = file_problem(self._sqlite_path)
            if found is not None:
                return HealthReport.failed("file", found.describe())
            if not self._sqlite_path.exists():
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
        filler = "h" * _HEALTH_ROW_BYTES
        upsert = self._insert(locks).values(name=name, owner=filler, expires=0.0)
        upsert = upsert.on_conflict_do_update(index_elements=[locks.c.name], set_={"owner": filler})
        millis = int(HEALTH_TIMEOUT_S * 1000)
        with _storage_errors(), self._local_writers(HEALTH_TIMEOUT_S), self._engine.connect() as conn:
            conn.execution_options(bot_write=True)
            with self._sqlite_busy_timeout(conn, millis), conn.begin():
                if self._dialect == "postgresql":
                    conn.exec_driver_sql(f"SET LOCAL statement_timeout = {millis}")
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = {millis}")
                conn.execute(upsert)
                conn.execute(delete(locks).where(locks.c.name == name))

    @contextmanager
    def _sqlite_busy_timeout(self, conn: Connection, millis: int) -> Iterator[None]:
        """A shorter busy timeout on this pooled connection for a while, set on the driver's connection so that
        it holds for the BEGIN IMMEDIATE that follows (a PRAGMA through SQLAlchemy would begin first)."""
        if self._dialect != "sqlite":
            yield
            return
        raw = conn.connection.dbapi_connection
        raw.execute(f"PRAGMA busy_timeout = {millis}")
        try:
            yield
        finally:
            with contextlib.suppress(sqlite3.Error):
                raw.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")

    def after_fork(self) -> None:
        """In a forked worker: forget (never close) the connections inherited from the parent. Idempotent;
        runs by itself after os.fork, and gunicorn's post_fork may call it again."""
        _INHERITED.append(self._engine.pool)  # kept alive so no finalizer touches the parent's connections
        self._engine.dispose(close=False)
        self._writer_lock = threading.Lock()  # another thread of the parent may have held it at fork time

    def close(self) -> None:
        self._engine.dispose()

    # -- seen events (claims) --------------------------------------------------------------------------------

    def claim(self, key: str, lease_s: float, now: float) -> ClaimResult:
        """Atomically claim `key` for `lease_s` seconds: one statement, one transaction.

        A re-delivery of a finished event is answered by a read, without queueing for the write lock."""
        with self._read() as conn:
            if conn.execute(self._is_done, {"key": key}).first() is not None:
                return ClaimResult.DONE
        token = uuid.uuid4().hex
        with self._write(single=True) as conn:
            state, owner = conn.execute(
                self._claim, {"key": key, "expires": now + lease_s, "owner": token, "now": now}
            ).one()
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
            state, owner = conn.execute(
                self._claim, {"key": key, "expires": now + lease_s, "owner": token, "now": now}
            ).one()
            view = conn.execute(self._copy_of, {"message_id": message_id}).scalar() if message_id else None
        result = ClaimResult.NEW if owner == token else ClaimResult.DONE if state == DONE else ClaimResult.BUSY
        return result, json.loads(view) if view is not None else None

    def finish(self, key: str, now: float) -> None:
        """Mark `key` processed; later deliveries get DONE until `sweep` forgets it."""
        with self._write(single=True) as conn:
            conn.execute(self._finish, {"key": key, "now": now})

    def release(self, key: str) -> None:
        """Processing failed: drop the claim so a re-delivery processes the event. A done key stays done."""
        with self._write(single=True) as conn:
            conn.execute(delete(seen_events).where(seen_events.c.key == key, seen_events.c.state == IN_PROGRESS))

    def sweep(self, now: float, keep_s: float = 48 * 3600) -> int:
        """Forget seen events older than `keep_s` (≥ Feishu's 7.1 h retry window), expired locks and
        leases, and settled intents; returns how many seen events were deleted."""
        horizon = now - keep_s
        with self._write() as conn:
            deleted = conn.execute(delete(seen_events).where(seen_events.c.expires < horizon)).rowcount
            conn.execute(delete(locks).where(locks.c.expires < now))
            conn.execute(delete(intents).where(intents.c.state != SENDING, intents.c.updated < horizon))
            conn.execute(delete(card_copies).where(card_copies.c.created < now - COPY_KEEP_S))
        return int(deleted or 0)

    def count_seen(self) -> int:
        with self._read() as conn:
            return int(conn.execute(select(func.count()).select_from(seen_events)).scalar() or 0)

    # -- locks and leases ------------------------------------------------------------------------------------

    def _take(self, statement: Any, name: str, owner: str, expires: float, now: float) -> bool:
        with self._write(single=True) as conn:
            row = conn.execute(statement, {"name": name, "owner": owner, "expires": expires, "now": now}).first()
        return row is not None

    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: float) -> bool:
        """Take the lock `name` for `ttl_s` s; an expired lock is taken over, the same owner may extend it."""
        return self._take(self._lock, name, owner, now + ttl_s, now)

    def release_lock(self, name: str, owner: str) -> bool:
        """Compare-and-delete: only the owner's own lock goes (not one taken over after it expired)."""
        with self._write(single=True) as conn:
            result = conn.execute(delete(locks).where(locks.c.name == name, locks.c.owner == owner))
        return result.rowcount == 1

    def take_lease(self, name: str, owner: str, until: float, now: float) -> bool:
        """True for exactly one caller per `name` until `until` passes (e.g. "digest:2026-11-25").

        Pass an `until` later than anyone will ask for that name; after it the lease may be taken again."""
        return self._take(self._lease, name, owner, until, now)

    # -- intents (T10) -----------------------------------------------------------------------------------------

    def record_intent(
        self, intent_id: str, approval_id: str, action: str, operator: str, now: float,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """Write down an action about to be sent (state "sending"), before the process call."""
        values = self._intent_values(Intent(intent_id, approval_id, action, operator, detail or {}), now)
        with self._write(single=True) as conn:
            conn.execute(self._intent_insert, values)

    def begin_action(self, lock: str, owner: str, ttl_s: float, now: float, intent: Intent,
                     fresh_since: float) -> ActionStart:
        """Before the Feishu call, one transaction: take the approval's `lock` (as `acquire_lock`), read its last
        success and, unless that is at or after `fresh_since` (someone acted after the lookup the decision rests
        on), write `intent` (as `record_intent`). Nothing is written when the lock is held."""
        with self._write() as conn:
            taken = conn.execute(self._lock, {"name": lock, "owner": owner, "expires": now + ttl_s, "now": now})
            if taken.first() is None:
                return ActionStart(False)
            row = conn.execute(self._last_success, {"approval_id": intent.approval_id}).mappings().first()
            previous = AuditRecord(**row) if row is not None else None
            if previous is not None and previous.at >= fresh_since:
                return ActionStart(True, previous, False)
            conn.execute(self._intent_insert, self._intent_values(intent, now))
        return ActionStart(True, previous, True)

    def end_action(self, record: AuditRecord, *, settles: str = "", lock: str = "", owner: str = "",
                   claim: str = "", serial: tuple[str, str] | None = None) -> int:
        """After the Feishu call, one transaction: append `record` (settling the intent `settles`), release the
        lock `lock` if `owner` still holds it, mark the delivery `claim` done, and remember `serial` (serial
        number, instance code) unless this process knows the pair: the card about to show it costs no more."""
        serial = serial if serial is not None and not self.knows_serial(*serial) else None
        with self._write() as conn:
            if settles:
                conn.execute(self._settle, {"settles": settles, "outcome": record.outcome, "at": record.at})
            found = int(conn.execute(self._audit_insert, _audit_values(record)).scalar_one())
            if lock:
                conn.execute(self._unlock, {"name": lock, "owner": owner})
            if claim:
                conn.execute(self._finish, {"key": claim, "now": record.at})
            if serial is not None:
                conn.execute(self._serial_upsert, {"serial": serial[0], "instance_code": serial[1], "now": record.at})
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
            conn.execute(update(intents).where(intents.c.intent_id == intent_id).values(state=outcome, updated=now))

    def open_intents(self, older_than: float) -> list[dict[str, Any]]:
        """Intents still "sending" that were recorded at or before `older_than`, oldest first."""
        stmt = (select(intents).where(intents.c.state == SENDING, intents.c.created <= older_than)
                .order_by(intents.c.created, intents.c.intent_id))
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [{**row, "detail": json.loads(row["detail"])} for row in rows]

    # -- approvers (daily digest) ---------------------------------------------------------------------------------

    def remember_approvers(self, open_ids: list[str], now: float) -> None:
        rows = [{"open_id": o, "last_seen": now} for o in dict.fromkeys(open_ids) if o]
        if not rows:
            return
        stmt = self._insert(approvers)
        stmt = stmt.on_conflict_do_update(index_elements=[approvers.c.open_id],
                                          set_={"last_seen": stmt.excluded.last_seen})
        with self._write() as conn:
            conn.execute(stmt, rows)

    def approvers(self, seen_since: float) -> list[str]:
        stmt = select(approvers.c.open_id).where(approvers.c.last_seen >= seen_since).order_by(approvers.c.open_id)
        with self._read() as conn:
            return list(conn.execute(stmt).scalars())

    # -- cards ---------------------------------------------------------------------------------------------------

    def remember_card(self, approval_id: str, message_id: str, now: float) -> None:
        """A card the bot sent for this approval; of its copies only the newest CARDS_KEPT are kept."""
        row = cards.c
        insert = self._insert(cards).values(approval_id=approval_id, message_id=message_id, created=now)
        newest = (select(row.message_id).where(row.approval_id == approval_id)
                  .order_by(row.created.desc(), row.message_id.desc()).limit(CARDS_KEPT))
        prune = delete(cards).where(row.approval_id == approval_id, row.message_id.not_in(newest))
        with self._write() as conn:
            conn.execute(insert.on_conflict_do_nothing(index_elements=[row.approval_id, row.message_id]))
            conn.execute(prune)

    def cards_for(self, approval_id: str) -> list[str]:
        with self._read() as conn:
            return list(conn.execute(self._cards_for, {"approval_id": approval_id}).scalars())

    def remember_copy(self, message_id: str, view: Mapping[str, Any], now: float) -> None:
        """Who this message was sent to and what it shows (the latest wins: a list turns to its next page)."""
        stmt = self._insert(card_copies).values(message_id=message_id, view=json.dumps(dict(view)), created=now)
        stmt = stmt.on_conflict_do_update(index_elements=[card_copies.c.message_id],
                                          set_={"view": stmt.excluded.view})
        with self._write(single=True) as conn:
            conn.execute(stmt)

    def copy_of(self, message_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            view = conn.execute(self._copy_of, {"message_id": message_id}).scalar()
        return json.loads(view) if view is not None else None

    # -- serial numbers --------------------------------------------------------------------------------------------

    def remember_serial(self, serial: str, instance_code: str, now: float) -> None:
        with self._write(single=True) as conn:
            conn.execute(self._serial_upsert, {"serial": serial, "instance_code": instance_code, "now": now})
        self._known_serial(serial, instance_code)

    def instance_for_serial(self, serial: str) -> str | None:
        """The instance a serial number names. Feishu gives every instance its own serial, so a pair once read
        or written stays true: the newest SERIALS_KNOWN are answered from memory (every card shows its serial,
        and checking it is known must not cost a click a round trip)."""
        with self._serials_lock:
            known = self._serials.get(serial)
        if known is not None:
            return known
        stmt = select(serials.c.instance_code).where(serials.c.serial == serial)
        with self._read() as conn:
            found = conn.execute(stmt).scalar()
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
        values = _audit_values(record)
        with self._write(single=not settles) as conn:
            if settles:
                conn.execute(update(intents).where(intents.c.intent_id == settles)
                             .values(state=record.outcome, updated=record.at))
            return int(conn.execute(audit.insert().values(**values).returning(audit.c.id)).scalar_one())

    def history(self, approval_id: str) -> list[AuditRecord]:
        """Every record for `approval_id`, in the order they were appended."""
        stmt = select(audit).where(audit.c.approval_id == approval_id).order_by(audit.c.id)
        with self._read() as conn:
            return [AuditRecord(**row) for row in conn.execute(stmt).mappings()]

    # -- attendance records found ----------------------------------------------------------------------------------

    def remember_records(self, refs: Mapping[str, Mapping[str, Any]], now: float) -> None:
        """Attendance records found (approval_id → type, requester, day), in one transaction."""
        if not refs:
            return
        stmt = self._insert(attendance_records).values(
            [{"approval_id": k, "ref": json.dumps(dict(v)), "created": now} for k, v in refs.items()])
        stmt = stmt.on_conflict_do_update(index_elements=[attendance_records.c.approval_id],
                                          set_={"ref": stmt.excluded.ref, "created": stmt.excluded.created})
        with self._write(single=True) as conn:
            conn.execute(stmt)

    def record_ref(self, approval_id: str) -> dict[str, Any] | None:
        stmt = select(attendance_records.c.ref).where(attendance_records.c.approval_id == approval_id)
        with self._read() as conn:
            ref = conn.execute(stmt).scalar()
        return json.loads(ref) if ref is not None else None

    def last_success(self, approval_id: str) -> AuditRecord | None:
        with self._read() as conn:
            row = conn.execute(self._last_success, {"approval_id": approval_id}).mappings().first()
        return AuditRecord(**row) if row is not None else None
