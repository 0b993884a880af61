"""Every store test runs on SQLite (a temporary file) and, when BOT_TEST_POSTGRES_URL is set, on PostgreSQL.

Each PostgreSQL test gets its own schema (via the URL's search_path option), dropped afterwards.
See tests/store/POSTGRES.md for starting a local server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from bot.store import Store, open_store

PG_ENV = "BOT_TEST_POSTGRES_URL"
# Read at import: the suite's autouse fixture clears BOT_* variables before each test runs.
PG_BASE_URL = os.environ.get(PG_ENV, "")


def postgres_schema_url() -> Iterator[str]:
    base = PG_BASE_URL
    if not base:
        pytest.skip(f"PostgreSQL variant: set {PG_ENV}=postgresql://user@127.0.0.1:port/db (tests/store/POSTGRES.md)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    parts = urlsplit(base)
    plain = urlunsplit(parts._replace(scheme="postgresql"))
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        query = urlencode([*parse_qsl(parts.query), ("options", f"-csearch_path={schema}")])
        yield urlunsplit(parts._replace(query=query))
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """For a test of PostgreSQL alone (a server that ends a session, psycopg's parameter style)."""
    yield from postgres_schema_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # noqa: ANN001
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite3'}"
    else:
        yield from postgres_schema_url()


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    try:
        yield opened
    finally:
        opened.close()
