"""A throw-away PostgreSQL for the scale-out scenario, started the way CI starts it (.ci/postgres.sh: a cluster in
/tmp/approval-bot-pg on 127.0.0.1:55432), and one fresh database per run, dropped afterwards.

`available()` says why not when it cannot be had (no PostgreSQL installed, not root for `su postgres`): the
scenario is then skipped with that reason, never faked on SQLite.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bench.procs import REPO

SCRIPT = REPO / ".ci" / "postgres.sh"
ADMIN_URL = "postgresql://postgres@127.0.0.1:55432/postgres"


def available() -> str | None:
    """None when a cluster can be started here, else the reason it cannot."""
    if not SCRIPT.exists():
        return f"{SCRIPT} missing"
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")):
        return "PostgreSQL not installed (apt-get install -y postgresql)"
    if os.geteuid() != 0 or shutil.which("su") is None:
        return "starting the cluster needs root (initdb runs as the postgres user)"
    return None


def start() -> None:
    """Start (or find running) the CI cluster; idempotent, bounded by pg_ctl's own 60 s wait."""
    # The script only installs PostgreSQL when it is missing; available() has checked it is not.
    done = subprocess.run(["bash", "-c", f". {SCRIPT} && start_postgres"], capture_output=True, text=True,
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"PostgreSQL did not start: {done.stderr.strip()[-400:]}")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty database on the cluster; its URL. Dropped on exit (connections forced off)."""
    import psycopg

    name = f"approval_bot_bench_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql://postgres@127.0.0.1:55432/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
