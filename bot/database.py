"""The store's connections: sqlite3 or psycopg 3, one pool per process, each statement written once for both.

No SQL toolkit in between (docs/serving.md, "Memory and start-up"): the store's few dozen statements are plain
SQL that SQLite (3.35+: RETURNING) and PostgreSQL both run, with ``:name`` parameters (turned into psycopg's
``%(name)s`` once, when the statement is written). Both drivers run in autocommit: a single statement is atomic
by itself, and a transaction is an explicit ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite) … ``COMMIT``.

The pool (`Database`) hands each thread its own connection for the length of a `connect()` block, keeps up to
`size` idle ones, opens up to `size + overflow` at once and makes a caller beyond that wait, bounded, for one
(`PoolTimeout`). A connection is never used by a process other than the one that opened it: `after_fork` sets
the inherited ones aside without closing them, and each checkout checks the pid again.
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

_NAMED = re.compile(r"'[^']*'|(?<![:\w]):([A-Za-z_]\w*)")  # a quoted literal is skipped whole; `::` is a cast

# Pools and connections of a parent process: never used, never closed, here (closing a connection the parent
# still uses would end its session; a finalizer would do the same).
_INHERITED: list[Any] = []

Params = Mapping[str, Any] | None


class PoolTimeout(Exception):
    """Every connection of this process's pool stayed in use for the whole wait."""


class Statement:
    """One SQL statement, written once with ``:name`` parameters, in the form each driver takes."""

    __slots__ = ("sqlite", "postgresql")

    def __init__(self, text: str) -> None:
        self.sqlite = text
        self.postgresql = _NAMED.sub(lambda m: f"%({m[1]})s" if m[1] else m[0].replace("%", "%%"), text)

    def __str__(self) -> str:
        return self.sqlite


def _driver_classes(*names: str) -> tuple[type[BaseException], ...]:
    """The DB-API exception classes `names` of each driver loaded here (psycopg only where a PostgreSQL store
    is)."""
    psycopg = sys.modules.get("psycopg")
    drivers = (sqlite3, psycopg) if psycopg is not None else (sqlite3,)
    return tuple(getattr(driver, name) for driver in drivers for name in names)


def driver_errors() -> tuple[type[BaseException], ...]:
    """The base error class of each driver."""
    return _driver_classes("Error")


def not_storage_errors() -> tuple[type[BaseException], ...]:
    """Driver errors that mean a bug in a statement or its values, not a store that cannot be used."""
    return _driver_classes("IntegrityError", "ProgrammingError", "DataError", "NotSupportedError")


def connection_errors() -> tuple[type[BaseException], ...]:
    """Driver errors about the connection or the server rather than the data."""
    return _driver_classes("OperationalError", "InterfaceError")


class Connection:
    """A pooled driver connection, for the length of one `Database.connect()` block."""

    __slots__ = ("raw", "_postgresql", "_observers")

    def __init__(self, raw: Any, database: Database) -> None:
        self.raw = raw
        self._postgresql = database.dialect == "postgresql"
        self._observers = database.observers

    def execute(self, statement: Statement | str, params: Params = None) -> Any:
        """Run one statement; the driver's cursor. Prefer `rows`, `first`, `scalar` and `run`, which read the
        whole answer: SQLite keeps a statement (and its write lock) open until its rows are read."""
        if isinstance(statement, str):  # as the driver takes it: nothing to convert or escape
            text = statement
            self._observe(text)
        else:
            text = self._text(statement)
            if self._postgresql and params is None:
                params = {}  # psycopg reads `%%` as `%` only in a statement that has parameters
        return self.raw.execute(text) if params is None else self.raw.execute(text, params)

    def rows(self, statement: Statement | str, params: Params = None) -> list[tuple[Any, ...]]:
        cursor = self.execute(statement, params)
        return cursor.fetchall() if cursor.description is not None else []

    def first(self, statement: Statement | str, params: Params = None) -> tuple[Any, ...] | None:
        found = self.rows(statement, params)
        return found[0] if found else None

    def scalar(self, statement: Statement | str, params: Params = None) -> Any:
        row = self.first(statement, params)
        return row[0] if row is not None else None

    def run(self, statement: Statement | str, params: Params = None) -> int:
        """A statement without rows; how many rows it changed."""
        return int(self.execute(statement, params).rowcount or 0)

    def run_many(self, statement: Statement, params: Iterable[Mapping[str, Any]]) -> None:
        text = self._text(statement)
        if self._postgresql:
            with self.raw.cursor() as cursor:
                cursor.executemany(text, list(params))
        else:
            self.raw.executemany(text, list(params))

    def _text(self, statement: Statement) -> str:
        """The statement as this driver takes it, shown to the observers."""
        text = statement.postgresql if self._postgresql else statement.sqlite
        self._observe(text)
        return text

    def _observe(self, text: str) -> None:
        for observe in self._observers:
            observe(text)

    @contextmanager
    def transaction(self, immediate: bool = False) -> Iterator[Connection]:
        """BEGIN … COMMIT, rolled back on any error. `immediate`: SQLite takes its write lock at BEGIN."""
        self.execute("BEGIN IMMEDIATE" if immediate and not self._postgresql else "BEGIN")
        try:
            yield self
        except BaseException:
            with suppress(Exception):
                self.raw.rollback()
            raise
        self.execute("COMMIT")


class _Entry:
    __slots__ = ("raw", "pid", "born", "used", "generation", "tag")

    def __init__(self, raw: Any, generation: int, tag: Any) -> None:
        self.raw = raw
        self.pid = os.getpid()
        self.born = self.used = time.monotonic()
        self.generation = generation
        self.tag = tag


class Database:
    """A bounded pool of driver connections for one process; thread-safe.

    `opener` makes a new connection, set up for the dialect. `tag` is read when a connection opens and `valid`
    is asked at each checkout whether it still holds for it (SQLite: the same database file). A PostgreSQL
    connection idle longer than `ping_after_s` is pinged first (a server restarted meanwhile has closed it);
    one older than `recycle_s` is replaced."""

    def __init__(self, dialect: str, opener: Callable[[], Any], *, size: int, overflow: int,
                 timeout_s: float = 30.0, recycle_s: float | None = None, ping_after_s: float | None = None,
                 tag: Callable[[], Any] | None = None, valid: Callable[[Any], bool] | None = None,
                 path: Path | None = None) -> None:
        self.dialect = dialect
        self.path = path  # SQLite: the database file (the store's health check looks at it)
        self._opener = opener
        self._size = size
        self._limit = size + overflow
        self._timeout_s = timeout_s
        self._recycle_s = recycle_s
        self._ping_after_s = ping_after_s
        self._tag = tag
        self._valid = valid
        self.on_connect: list[Callable[[Any], None]] = []  # run on each new driver connection (tests cap it)
        self.observers: list[Callable[[str], None]] = []  # see every statement's text (tests count them)
        self._reset_state()

    def _reset_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._idle: list[_Entry] = []
        self._open = 0
        self._generation = getattr(self, "_generation", 0) + 1
        self._pid = os.getpid()

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        entry = self._checkout()
        try:
            yield Connection(entry.raw, self)
        finally:
            self._checkin(entry)

    def dispose(self, close: bool = True) -> None:
        """Drop every idle connection (closed, or with `close` False set aside); busy ones close on return."""
        with self._cond:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._generation += 1  # connections in use now are closed when they come back
            self._cond.notify_all()
        for entry in idle:
            self._drop(entry, close)

    def after_fork(self) -> None:
        """In a forked child: the parent's connections (and its lock) are not ours. Idempotent."""
        _INHERITED.extend(entry.raw for entry in self._idle)
        self._reset_state()

    # -- the pool ---------------------------------------------------------------------------------------------

    def _checkout(self) -> _Entry:
        deadline = time.monotonic() + self._timeout_s
        while True:
            entry = self._take_or_reserve(deadline)
            if entry is None:
                return self._open_new()
            if self._usable(entry):
                return entry
            self._discard(entry)

    def _take_or_reserve(self, deadline: float) -> _Entry | None:
        """An idle connection (the most recently used), or None with a place reserved for a new one."""
        if self._pid != os.getpid():
            self.after_fork()  # forked without the at-fork hook having run (it always runs; a second line)
        with self._cond:
            while True:
                if self._idle:
                    return self._idle.pop()
                if self._open < self._limit:
                    self._open += 1
                    return None
                left = deadline - time.monotonic()
                if left <= 0 or not self._cond.wait(left) and not self._idle and self._open >= self._limit:
                    raise PoolTimeout(f"all {self._limit} connections in use for {self._timeout_s:g} s")

    def _open_new(self) -> _Entry:
        try:
            raw = self._opener()
            for hook in self.on_connect:
                hook(raw)
            return _Entry(raw, self._generation, self._tag() if self._tag is not None else None)
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def _usable(self, entry: _Entry) -> bool:
        if entry.pid != os.getpid():  # opened by the process this one was forked from
            _INHERITED.append(entry.raw)
            entry.raw = None
            return False
        if self._valid is not None and not self._valid(entry.tag):
            return False
        now = time.monotonic()
        if self._recycle_s is not None and now - entry.born > self._recycle_s:
            return False
        if self._ping_after_s is not None and now - entry.used > self._ping_after_s:
            try:
                entry.raw.execute("SELECT 1").fetchall()
            except driver_errors():
                return False
        return True

    def _checkin(self, entry: _Entry) -> None:
        keep = entry.generation == self._generation and entry.pid == os.getpid() and self._reset(entry.raw)
        with self._cond:
            if keep and len(self._idle) < self._size:
                entry.used = time.monotonic()
                self._idle.append(entry)
                self._cond.notify()
                return
            if entry.pid == os.getpid():  # a pre-fork connection was never counted in this process
                self._open -= 1
            self._cond.notify()
        self._drop(entry, close=entry.pid == os.getpid())

    def _discard(self, entry: _Entry) -> None:
        with self._cond:
            self._open -= 1
            self._cond.notify()
        self._drop(entry, close=True)

    def _reset(self, raw: Any) -> bool:
        """Whether a returned connection can be used again, rolled back to no transaction."""
        try:
            if self.dialect == "postgresql":
                if raw.closed or raw.broken:
                    return False
                if raw.info.transaction_status != 0:  # not IDLE: a block that left a transaction open
                    raw.rollback()
            elif raw.in_transaction:
                raw.rollback()
        except driver_errors():
            return False
        return True

    @staticmethod
    def _drop(entry: _Entry, close: bool) -> None:
        if entry.raw is None:
            return
        if not close:
            _INHERITED.append(entry.raw)
            return
        with suppress(Exception):
            entry.raw.close()
