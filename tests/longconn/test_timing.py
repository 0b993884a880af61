"""The 3 s budget: a slow handle never blocks pings or other frames, and every frame is answered in time."""

from __future__ import annotations

import threading
import time

from tests.longconn.conftest import RecordingHandle, message_event, wait_until


def test_a_slow_handle_does_not_stop_pings_or_other_frames(connect, hub):
    slow_event, quick_event = message_event("ev-slow"), message_event("ev-quick")

    def handle(payload):
        if payload["header"]["event_id"] == "ev-slow":
            time.sleep(2.0)
        return 200, {}

    connect(handle)
    client = hub.wait_for_clients(1)[0]
    slow: dict = {}
    pusher = threading.Thread(target=lambda: slow.update(d=hub.push_event(slow_event)))
    pusher.start()
    time.sleep(0.3)
    pings_before = client.pings
    quick = hub.push_event(quick_event)
    assert quick.accepted and quick.elapsed_s < 0.5  # not queued behind the slow one
    assert wait_until(lambda: client.pings >= pings_before + 1, 2.0)  # pings every second meanwhile
    pusher.join(5)
    assert slow["d"].accepted and 1.9 < slow["d"].elapsed_s < 3.0


def test_a_handle_slower_than_3_s_is_answered_200_in_time_and_still_finishes(connect, hub):
    handle = RecordingHandle(delay_s=3.5)
    connection = connect(handle)
    event = message_event("ev-too-slow")
    delivery = hub.push_event(event)
    assert delivery.code == 200 and delivery.in_time
    assert 2.5 < delivery.elapsed_s < 3.0
    assert handle.finished == []  # still working when answered
    assert wait_until(lambda: handle.finished == [event], 2.0)
    assert not wait_until(lambda: len(hub.deliveries_of(event)) > 1, 0.5)  # accepted: no re-push
    assert connection.status().healthy


def test_several_frames_are_handled_at_once(connect, hub):
    handle = RecordingHandle(delay_s=1.0)
    connect(handle, pool_size=4)
    events = [message_event(f"ev-par-{i}") for i in range(4)]
    results: list = []
    threads = [threading.Thread(target=lambda e=e: results.append(hub.push_event(e))) for e in events]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(5)
    assert len(results) == 4 and all(d.accepted for d in results)
    assert time.monotonic() - started < 2.0  # four 1 s handles side by side, not one after another


def test_an_answer_later_than_3_s_counts_as_failed_and_the_event_is_pushed_again(connect, hub):
    handle = RecordingHandle(delay_s=(3.2,))  # the push again is answered at once
    connect(handle, answer_budget_s=3.6)  # a client that waits too long (ours answers at 2.7 s)
    event = message_event("ev-late")
    first = hub.push_event(event, timeout=4.0)
    assert first.code == 200 and not first.in_time and not first.accepted
    assert wait_until(lambda: len(hub.deliveries_of(event)) == 2, 2.0)
