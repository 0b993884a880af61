"""Small file systems for storage-failure tests: a tmpfs of a few MiB that can fill up or turn read-only.

Mounting needs root (containers and CI runners here are root). Without it, callers fall back to simulating the
fault inside SQLite (`limit_pages`) or with file modes, and say so in the test id.
"""

from __future__ import annotations

import contextlib
import errno
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

from bot.store import Store


def can_mount() -> bool:
    return os.geteuid() == 0


@contextlib.contextmanager
def tmpfs(where: Path, size: str = "4m") -> Iterator[Path]:
    """A tmpfs of `size` mounted at `where`, unmounted afterwards even if a test left it read-only or full."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True,
                   capture_output=True, timeout=10)
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False, capture_output=True, timeout=10)


def remount_read_only(where: Path) -> None:
    subprocess.run(["mount", "-o", "remount,ro", str(where)], check=True, capture_output=True, timeout=10)


def fill(directory: Path, max_bytes: int = 64 * 1024 * 1024) -> Path:
    """Write a filler file until the file system says ENOSPC (bounded); return it so it can be deleted."""
    filler = directory / "filler.bin"
    block = b"\0" * 65536
    written = 0
    with open(filler, "wb", buffering=0) as out:
        while written < max_bytes:
            try:
                written += out.write(block)
            except OSError as err:
                if err.errno != errno.ENOSPC:
                    raise
                break
    assert written < max_bytes, "the file system did not fill up"
    return filler


def limit_pages(store: Store) -> None:
    """Without a mount: cap the database at its current size on every connection, as a full disk would."""
    with store.database.connect() as conn:
        pages = conn.scalar("PRAGMA page_count")

    def _cap(raw) -> None:  # noqa: ANN001
        raw.execute(f"PRAGMA max_page_count = {pages}")

    store.database.on_connect.append(_cap)
    store.database.dispose()  # pooled connections reconnect with the cap
