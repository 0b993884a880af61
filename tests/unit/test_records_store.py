"""The store remembers the attendance records the bot found (id → type, requester, day), for SQLite (and
PostgreSQL where tests/store's URL is set), so that later lookups need no team-wide search."""

from __future__ import annotations

from bot.store import open_store


def test_records_found_are_remembered_and_the_newest_wins(tmp_path):
    store = open_store(f"sqlite:///{tmp_path / 'bot.sqlite3'}")
    try:
        assert store.record_ref("7001") is None
        store.remember_records({"7001": {"type": "remedy", "employee_id": "u_ann", "open_id": "ou_ann",
                                         "day": 20261119},
                                "7101": {"type": "leave", "employee_id": "u_ann", "open_id": "", "day": 20261118}},
                               1.0)
        assert store.record_ref("7001") == {"type": "remedy", "employee_id": "u_ann", "open_id": "ou_ann",
                                            "day": 20261119}
        store.remember_records({"7001": {"type": "remedy", "employee_id": "u_ann", "open_id": "ou_ann",
                                         "day": 20261120}}, 2.0)
        assert store.record_ref("7001")["day"] == 20261120 and store.record_ref("7101")["type"] == "leave"
        store.remember_records({}, 3.0)  # nothing to write is no write
    finally:
        store.close()


def test_an_existing_database_gains_the_table(tmp_path):
    import sqlite3

    url = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "bot.sqlite3") as conn:  # a database made before the table existed
        conn.execute("DROP TABLE bot_attendance_records")
    again = open_store(url)
    try:
        again.remember_records({"1": {"type": "out", "employee_id": "u", "open_id": "", "day": 0}}, 1.0)
        assert again.record_ref("1")["type"] == "out"
    finally:
        again.close()
