"""What one click costs on its answer's path, counted (never timed): store round trips (bot/store.py counts its
transactions) and Feishu calls, with the real SQLite store. Work handed to the pool (the other copies of the
card) is held back and counted apart: the answer does not wait for it."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

import pytest

import cards
from bot.store import open_store
from core.records import ClaimResult
from handlers.pipeline import dispatch
from tests import samples
from tests.fakes import FakeGateway, click, make_context, message

PENDING = "81D31358-93AF-92D6-7425-01A5D67C4E71"  # a native instance code, as Feishu gives them
APPROVE = {"action": "approve", "approval_id": PENDING, "approval_type": "remedy", "v": cards.CARD_VERSION}
AT_MOST = 3  # claim (+ the clicked copy); lock + last success + intent; audit + intent + unlock + claim done


class HeldBackPool(Executor):
    """Runs the delivery's own job at once; what that job hands on waits in `later` (the answer's path is what
    ran before `run_later`)."""

    def __init__(self) -> None:
        self.later: list[Callable[[], Any]] = []
        self._depth = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        future: Future = Future()
        if self._depth:
            self.later.append(lambda: fn(*args, **kwargs))
            future.set_result(None)
            return future
        self._depth += 1
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # noqa: BLE001 - a Future carries whatever the job raised
            future.set_exception(exc)
        finally:
            self._depth -= 1
        return future

    def run_later(self) -> None:
        while self.later:
            self.later.pop(0)()


@pytest.fixture
def store(tmp_path):
    opened = open_store(f"sqlite:///{tmp_path / 'store.sqlite3'}")
    yield opened
    opened.close()


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway(instances={PENDING: {**samples.remedy_pending(), "instance_code": PENDING}},
                       names={"ou_manager": "Manager Wang"})


def soon() -> float:
    import time

    return time.monotonic() + 2.5


def test_an_approval_by_click_takes_at_most_three_store_round_trips_and_one_lookup(gateway, store):
    pool = HeldBackPool()
    ctx = make_context(gateway, store, pool=pool)
    store.remember_copy("om_card", {"kind": "approval", "recipient": "ou_manager", "shared": False}, 1.0)
    store.remember_card(PENDING, "om_other", 1.0)  # another copy: updated, but not on the answer's path
    before = store.round_trips

    answer = dispatch(ctx, click("manager", APPROVE, message_id="om_card"), soon())

    assert answer.outcome == "handled" and answer.body["toast"]["type"] == "success"
    assert store.round_trips - before <= AT_MOST
    assert [c[0] for c in gateway.calls if c[0] in ("instance_get", "task_approve")] == ["instance_get",
                                                                                       "task_approve"]
    assert gateway.patched == [] and pool.later  # the other copy follows off the path
    pool.run_later()
    assert [m for m, _card in gateway.patched] == ["om_other"]
    # everything a click must leave behind is there: the audit row, the settled intent, no lock, the claim done
    assert [(r.outcome, r.operator) for r in store.history(PENDING)] == [("done", "ou_manager")]
    assert store.open_intents(older_than=float("inf")) == []
    assert store.acquire_lock(f"approval:{PENDING}", "someone", 60, 1_795_136_999)


def test_the_serial_a_card_shows_is_remembered_with_the_audit_row_not_after(gateway, store):
    """A card whose serial this process never saw (a copy sent by another worker, or a fresh approval):
    the click's last transaction remembers it, and nothing in the pool reads or writes it again."""
    pool = HeldBackPool()
    ctx = make_context(gateway, store, pool=pool)
    serial = gateway.instances[PENDING]["serial_number"]
    assert not store.knows_serial(serial, PENDING)
    before = store.round_trips

    dispatch(ctx, click("manager", APPROVE, message_id="om_card"), soon())
    on_path = store.round_trips - before
    pool.run_later()

    assert on_path <= AT_MOST
    assert store.round_trips - before == on_path + 1  # the pool reads the other copies, nothing more
    assert store.instance_for_serial(serial) == PENDING


def test_the_claim_of_a_click_is_done_once_its_action_is(gateway, store):
    ctx = make_context(gateway, store, pool=HeldBackPool())
    clicked = click("manager", APPROVE)
    dispatch(ctx, clicked, soon())
    assert store.claim(f"evt:{clicked.event_id}", 10, 1_795_137_000) is ClaimResult.DONE
    assert dispatch(ctx, clicked, soon()).outcome == "duplicate"


def test_a_group_message_without_a_mention_costs_no_store_round_trip(gateway, store):
    before = store.round_trips
    answer = dispatch(make_context(gateway, store), message("employee", "lunch?", chat="group"), soon())
    assert answer.outcome == "silent" and store.round_trips == before


def test_a_next_step_the_click_could_not_see_corrects_the_clicked_card_off_the_path(gateway, store):
    """The answer says what the task's result makes of the approval; the lookup after it (in the pool) finds a
    second step Feishu opened, and the clicked card is corrected to show it is still pending."""
    pool, waited = HeldBackPool(), []
    ctx = make_context(gateway, store, pool=pool, sleep=waited.append)

    def next_step_opens() -> None:
        gateway.on_process = None
        data = gateway.instances[PENDING]
        data["task_list"].append({"id": "t2", "user_id": "u_director", "open_id": "ou_director",
                                  "status": "PENDING", "node_name": "Director"})

    gateway.on_process = next_step_opens
    store.remember_card(PENDING, "om_card", 1.0)
    answer = dispatch(ctx, click("manager", APPROVE, message_id="om_card"), soon())
    assert answer.body["toast"]["type"] == "success" and gateway.patched == []
    pool.run_later()
    assert [m for m, _card in gateway.patched] == ["om_card"] and waited  # after the answer had time to land
    assert gateway.count("instance_get") == 2


def test_a_single_step_approval_is_not_patched_twice(gateway, store):
    pool = HeldBackPool()
    store.remember_card(PENDING, "om_card", 1.0)
    dispatch(make_context(gateway, store, pool=pool), click("manager", APPROVE, message_id="om_card"), soon())
    pool.run_later()
    assert gateway.patched == []  # the only copy is the clicked one, and its answer was right
