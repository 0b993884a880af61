"""Upgrading a running deployment: a store written by the bot before the kinds of approval (schema v1) holds
intents that named an instance code as the attendance id sent to process. Opening it migrates it to v2, which
flags the unsettled ones as not replayable: the reconciler settles them with one log line each and no Feishu
call, and the approval's card, when asked for, says what to do."""

from __future__ import annotations

import logging
import time

import bot.store as store_module
from bot.store import SCHEMA_VERSION, AuditRecord, database_for, open_store
from handlers import maintenance
from handlers.pipeline import dispatch
from tests import samples
from tests.fakes import FakeGateway, make_context, message
from tests.integration.harness import card_text

APPROVED = samples.remedy_approved()  # approved in Feishu Approval by its approver, not by the bot
CODE = APPROVED["instance_code"]
OTHER = samples.remedy_pending()["instance_code"]
T = 1_795_000_000.0


def versions(url: str) -> list[int]:
    database = database_for(url)
    try:
        with database.connect() as conn:
            return sorted(row[0] for row in conn.rows("SELECT version FROM bot_schema_version"))
    finally:
        database.dispose()


def old_store(url: str, monkeypatch) -> None:
    """A v1 store as the bot before the kinds of approval left it: two actions whose worker died mid-way, one
    settled action, and its audit rows."""
    with monkeypatch.context() as patched:
        patched.setattr(store_module, "SCHEMA_VERSION", 1)
        old = open_store(url)
    try:
        old.record_intent("v1-dead-1", CODE, "approve", "ou_manager", T, {"attendance_id": CODE, "reason": "ok"})
        old.record_intent("v1-dead-2", OTHER, "reject", "ou_manager", T + 1, {"attendance_id": OTHER, "reason": "no"})
        old.record_intent("v1-settled", OTHER, "approve", "ou_manager", T - 50, {"attendance_id": OTHER})
        old.append_audit(AuditRecord(OTHER, "approve", "ou_manager", "failed", "remedy", at=T - 49),
                         settles="v1-settled")
    finally:
        old.close()
    assert versions(url) == [1]


def test_an_old_store_is_migrated_and_its_unsettled_intents_are_never_replayed(store_url, monkeypatch, caplog):
    old_store(store_url, monkeypatch)
    store = open_store(store_url)
    try:
        assert SCHEMA_VERSION == 2 and versions(store_url) == [1, 2]
        flagged = store.open_intents(T + 10)
        assert [(i["intent_id"], i["detail"].get("replayable")) for i in flagged] == [
            ("v1-dead-1", False), ("v1-dead-2", False)]
        assert flagged[0]["detail"]["reason"] == "ok"  # the rest of the detail is kept

        gateway = FakeGateway(instances={CODE: samples.remedy_approved(), OTHER: samples.remedy_pending()})
        ctx = make_context(gateway, store, clock=lambda: T + 3600)
        with caplog.at_level(logging.WARNING, logger="handlers.maintenance"):
            assert maintenance.reconcile(ctx) == 2
            assert maintenance.reconcile(ctx) == 0
        assert gateway.calls == []  # no lookup, no process, no task call, nobody messaged
        assert [r.outcome for r in store.history(CODE)] == ["not_replayable"]
        assert store.last_success(CODE) is None  # never counted as done, though the instance is APPROVED
        lines = [r.getMessage() for r in caplog.records if "not replayed" in r.getMessage()]
        assert len(lines) == 2 and CODE in lines[0] and OTHER in lines[1]
        assert store.open_intents(T + 3600) == []

        reply = dispatch(ctx, message("manager", f"/approval {CODE}"), time.monotonic() + 5)
        assert reply.outcome == "handled"
        text = card_text(gateway.sent[-1]["card"])
        assert "before an upgrade" in text and "act again" in text
    finally:
        store.close()


def test_migrating_twice_changes_nothing_and_new_intents_are_left_alone(store_url, monkeypatch):
    old_store(store_url, monkeypatch)
    open_store(store_url).close()
    store = open_store(store_url)  # a second worker starting: already v2
    try:
        assert versions(store_url) == [1, 2]
        store.record_intent("v2", CODE, "approve", "ou_manager", T + 5,
                            {"kind": "native", "task_id": "t1", "reason": ""})
        details = {i["intent_id"]: i["detail"] for i in store.open_intents(T + 10)}
        assert "replayable" not in details["v2"] and details["v1-dead-1"]["replayable"] is False
    finally:
        store.close()
