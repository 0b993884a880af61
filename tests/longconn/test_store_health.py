"""`approval-bot connect`'s /healthz reports the store too (through a callable: the transport knows no store):
a connected bot whose database file is gone is not healthy, and says which part failed."""

from __future__ import annotations

import requests

from bot.store import open_store
from tests.longconn.conftest import RecordingHandle


def test_a_connected_bot_whose_database_is_deleted_reports_503_naming_the_store(connect, health, tmp_path):
    path = tmp_path / "bot.sqlite3"
    store = open_store(f"sqlite:///{path}")
    try:
        server = health(connect(RecordingHandle()), store_health=store.health)
        answer = requests.get(f"{server.url}/healthz", timeout=2)
        assert answer.status_code == 200
        assert (answer.json()["status"], answer.json()["store"]) == ("ok", "ok")
        path.unlink()
        answer = requests.get(f"{server.url}/healthz", timeout=2)
        assert answer.status_code == 503
        body = answer.json()
        assert (body["status"], body["state"], body["store"]) == ("unhealthy", "connected",
                                                                 "file: database file missing")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        store.close()


def test_without_a_store_only_the_connection_counts(connect, health):
    server = health(connect(RecordingHandle()))
    answer = requests.get(f"{server.url}/healthz", timeout=2)
    assert answer.status_code == 200 and answer.json()["store"] == "not used"
