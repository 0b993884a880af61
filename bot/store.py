"""The shared store: seen events (claims), in-flight locks and leases, action intents, card registry, audit log.

One implementation on SQLAlchemy Core for two dialects:
- SQLite (the embedded default, ``sqlite:///path.sqlite3``): WAL, busy timeout, and ``BEGIN IMMEDIATE`` for every
  write transaction, so several gunicorn workers (processes) share one file safely.
- PostgreSQL (``postgresql://…``, driven by psycopg 3): the same statements; ``INSERT … ON CONFLICT … RETURNING`` is
  atomic there under READ COMMITTED.

Every state change is one statement in one transaction (the claim runs on every event: one round trip).

Claims (SECURITY.md T6) are leases: ``claim`` answers NEW for an unseen key or an ``in_progress`` claim whose lease
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
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

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
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from core.records import AuditRecord, ClaimResult

SCHEMA_VERSION = 1
BUSY_TIMEOUT_S = 10.0  # SQLite: how long a writer waits for another process's write lock
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


def open_store(url: str) -> Store:
    """Open the store at `url` and create its schema. ``sqlite:///path`` (a file) or ``postgresql://…``."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or "mode=memory" in str(parsed) or database.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite store is not shared across threads or workers: use a file path")
        engine = create_engine(
            parsed,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
            pool_size=5,
            max_overflow=20,
        )
        _configure_sqlite(engine)
    elif backend in ("postgresql", "postgres"):
        if parsed.drivername in ("postgresql", "postgres"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        engine = create_engine(
            parsed, pool_size=5, max_overflow=10, pool_pre_ping=True, pool_recycle=1800,
            connect_args={"connect_timeout": 5},
        )
    else:
        raise ValueError(f"unsupported store backend {backend!r}: expected sqlite or postgresql")
    _guard_against_fork(engine)
    store = Store(engine)
    store.create_schema()
    return store


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
        except sqlite3.OperationalError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("could not switch the SQLite store to WAL mode (is it on a network file system?)")
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


def _after_fork_in_child(ref: weakref.ref[Store]) -> None:
    store = ref()
    if store is not None:
        store.after_fork()


class Store:
    """All shared state of the bot. Thread-safe; one instance per process (see `after_fork`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._dialect = engine.dialect.name
        os.register_at_fork(after_in_child=functools.partial(_after_fork_in_child, weakref.ref(self)))
        self._writer_lock = threading.Lock()
        self._insert = postgresql.insert if self._dialect == "postgresql" else sqlite.insert
        # The hot-path statements are built once: building one costs more than running it on SQLite.
        self._claim = self._claim_statement()
        self._finish = self._insert(seen_events).values(
            key=bindparam("key"), state=DONE, expires=bindparam("now", type_=Double), owner=""
        ).on_conflict_do_update(index_elements=[seen_events.c.key], set_={"state": DONE, "expires": bindparam("now")})
        self._is_done = select(seen_events.c.key).where(seen_events.c.key == bindparam("key"),
                                                        seen_events.c.state == DONE)
        self._lock = self._lock_statement(reentrant=True)
        self._lease = self._lock_statement(reentrant=False)

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
        with self._local_writers(), self._engine.connect() as conn:
            if single:
                conn.execution_options(isolation_level="AUTOCOMMIT")
            else:
                conn.execution_options(bot_write=True)  # SQLite: BEGIN IMMEDIATE
            with conn.begin():
                yield conn

    def _local_writers(self) -> Any:
        return self._writer_lock if self._dialect == "sqlite" else contextlib.nullcontext()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        """One SELECT: autocommit, no transaction round trips (WAL readers never wait for writers)."""
        with self._engine.connect() as conn:
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

    def ping(self) -> bool:
        try:
            with self._engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except (exc.SQLAlchemyError, OSError):
            return False

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
        stmt = self._insert(intents).values(
            intent_id=intent_id, approval_id=approval_id, action=action, operator=operator, state=SENDING,
            created=now, updated=now, detail=json.dumps(detail or {}, ensure_ascii=False),
        ).on_conflict_do_nothing(index_elements=[intents.c.intent_id])
        with self._write(single=True) as conn:
            conn.execute(stmt)

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
        stmt = self._insert(cards).values(approval_id=approval_id, message_id=message_id, created=now)
        with self._write(single=True) as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=[cards.c.approval_id, cards.c.message_id]))

    def cards_for(self, approval_id: str) -> list[str]:
        stmt = (select(cards.c.message_id).where(cards.c.approval_id == approval_id)
                .order_by(cards.c.created, cards.c.message_id))
        with self._read() as conn:
            return list(conn.execute(stmt).scalars())

    # -- audit -----------------------------------------------------------------------------------------------------

    def append_audit(self, record: AuditRecord, *, settles: str = "") -> int:
        """Append `record`; with `settles`, also mark that intent with the record's outcome, atomically."""
        values = {
            "approval_id": record.approval_id, "action": record.action, "operator": record.operator,
            "outcome": record.outcome, "approval_type": record.approval_type, "reason": record.reason,
            "code": record.code, "log_id": record.log_id, "message": record.message, "at": record.at,
        }
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

    def last_success(self, approval_id: str) -> AuditRecord | None:
        stmt = (select(audit).where(audit.c.approval_id == approval_id, audit.c.outcome == DONE)
                .order_by(audit.c.id.desc()).limit(1))
        with self._read() as conn:
            row = conn.execute(stmt).mappings().first()
        return AuditRecord(**row) if row is not None else None
