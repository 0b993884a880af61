"""kill -9 of the worker in the middle of an action, under the Procfile's gunicorn: whatever the point, the audit
log, the card and the person end up agreeing with Feishu, and nothing is sent twice.

Kill points: (1) before the intent (the worker waits on the fresh lookup); (2) during the call, after Feishu
applied it (its answer held); (3) during the call, before Feishu applied it (the call never lands). The reconciler
then runs in-process on the same store with its clock moved on, instead of waiting out the lock's minute.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from bot.app import build_services, shutdown
from bot.config import load_config
from handlers import maintenance
from sandbox.data import INSTANCES
from tests.integration.harness import card_text, find_buttons
from tests.procs.test_processes import ENCRYPT_KEY, TOKEN, BotProcess

pytestmark = pytest.mark.slow
PENDING = INSTANCES["remedy_pending"]


def worker_pid(master: int) -> int:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture
def gunicorn(sandbox, tmp_path):
    database = f"sqlite:///{tmp_path / 'bot.sqlite3'}"
    bot = BotProcess(sandbox.url, database, workers=1)
    bot.wait_healthy()
    bot.database = database
    try:
        yield bot
    finally:
        sandbox.release_holds()
        bot.stop()


def card_and_click(sandbox, bot, **fault):
    """Show the card, then inject `fault` and click Approve on it in a thread (the fault holds the click)."""
    sender = sandbox.sender(bot.url, encrypt_key=ENCRYPT_KEY, verification_token=TOKEN)
    shown = sender.message("manager", f"/approval {PENDING}")
    assert wait(lambda: any(m.get("parent_id") == shown.message_id for m in sandbox.messages()))
    reply = next(m for m in sandbox.messages() if m.get("parent_id") == shown.message_id)
    value = next(v for v in find_buttons(reply["content"]) if v["action"] == "approve")
    sandbox.inject(**fault, times=1)
    click = threading.Thread(target=lambda: sender.click("manager", value, message_id=reply["message_id"],
                                                          chat_id=reply["chat_id"]), daemon=True)
    click.start()
    return sender, reply, value, click


def kill_worker(bot) -> None:
    os.kill(worker_pid(bot.proc.pid), signal.SIGKILL)


def reconcile_later(bot, sandbox, seconds: float) -> int:
    """The maintenance round of a process that starts `seconds` later, on the same store."""
    env = {"FEISHU_APP_ID": sandbox.app_id, "FEISHU_APP_SECRET": sandbox.app_secret, "FEISHU_BASE_URL": sandbox.url,
           "FEISHU_VERIFICATION_TOKEN": TOKEN, "FEISHU_ENCRYPT_KEY": ENCRYPT_KEY, "DATABASE_URL": bot.database,
           "BOT_LOCALE": "en_us"}
    services = build_services(load_config(env), clock=lambda: time.time() + seconds)
    try:
        return maintenance.reconcile(services.ctx)
    finally:
        shutdown(services)


def audit_of(bot, sandbox) -> list[tuple[str, str]]:
    from bot.store import open_store

    store = open_store(bot.database)
    try:
        return [(r.action, r.outcome) for r in store.history(PENDING)]
    finally:
        store.close()


def test_killed_before_the_intent_a_second_click_acts_once(gunicorn, sandbox):
    sender, reply, value, click = card_and_click(sandbox, gunicorn, endpoint="instance_get", id=PENDING, hold=True)
    assert sandbox.state.wait_held(1, 10)
    kill_worker(gunicorn)
    sandbox.release_holds()
    gunicorn.wait_healthy()  # gunicorn started a new worker
    assert sandbox.action_calls() == [] and audit_of(gunicorn, sandbox) == []
    again = sender.click("manager", value, message_id=reply["message_id"], chat_id=reply["chat_id"])
    assert again.status == 200 and again.toast["type"] == "success"
    assert len(sandbox.action_calls()) == 1 and audit_of(gunicorn, sandbox) == [("approve", "done")]


def test_killed_after_feishu_applied_it_the_reconciler_records_it_and_tells_the_manager(gunicorn, sandbox):
    _, reply, _, _ = card_and_click(sandbox, gunicorn, endpoint="task_approve", hold_after_apply=True)
    assert sandbox.state.wait_held(1, 10)
    kill_worker(gunicorn)
    sandbox.release_holds()
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "APPROVED"  # Feishu did it
    assert audit_of(gunicorn, sandbox) == []  # the worker died before it could record it
    assert reconcile_later(gunicorn, sandbox, 120) == 1
    assert audit_of(gunicorn, sandbox) == [("approve", "done")]
    assert wait(lambda: not [v for v in find_buttons(sandbox.state.message(reply["message_id"])["content"])
                             if v["action"] == "approve"])  # the card follows
    told = [m for m in sandbox.messages("oc_p2p_manager") if "has now applied" in card_text(m["content"])]
    assert len(told) == 1
    assert len(sandbox.action_calls()) == 1  # never re-sent


def test_killed_before_feishu_applied_it_nothing_is_resent_and_the_manager_is_told_to_look(gunicorn, sandbox):
    card_and_click(sandbox, gunicorn, endpoint="task_approve", hold=True)
    assert sandbox.state.wait_held(1, 10)
    kill_worker(gunicorn)
    sandbox.state.reset()  # the held call is abandoned: Feishu never applied it
    assert reconcile_later(gunicorn, sandbox, 120) == 0  # still looking, inside the settle window
    assert reconcile_later(gunicorn, sandbox, 700) == 1
    assert audit_of(gunicorn, sandbox) == [("approve", "unknown")]
    assert sandbox.state.snapshot(PENDING)["instance"]["status"] == "PENDING"
    assert sandbox.action_calls() == []  # the reset forgot the abandoned call; nothing new was sent
    told = [m for m in sandbox.messages("oc_p2p_manager") if "did not apply" in card_text(m["content"])]
    assert len(told) == 1
