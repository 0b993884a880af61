"""It never goes deaf silently: drops, refusals, stalls and silence are noticed, reported and recovered from."""

from __future__ import annotations

import requests

from tests.longconn.conftest import RecordingHandle, message_event, wait_until


def healthz(server) -> tuple[int, dict]:
    answer = requests.get(f"{server.url}/healthz", timeout=2)
    return answer.status_code, answer.json()


def test_a_dropped_connection_turns_health_503_then_reconnects_to_200(connect, hub, health):
    handle = RecordingHandle()
    connection = connect(handle)
    server = health(connection)
    assert healthz(server)[0] == 200
    hub.refuse_handshake()  # keep it down long enough to be seen
    assert hub.drop_connections() == 1
    assert wait_until(lambda: healthz(server)[0] == 503, 3)
    assert healthz(server)[1]["status"] == "unhealthy"
    assert wait_until(lambda: "handshake failed: refused (1: system busy)" in healthz(server)[1]["detail"], 3)
    hub.refuse_handshake(False)
    assert wait_until(lambda: healthz(server)[0] == 200, 3)
    assert healthz(server)[1]["reconnects"] == 1
    event = message_event("ev-after-drop")
    assert hub.push_event(event).accepted and handle.payloads == [event]


def test_a_stalled_endpoint_times_out_reports_it_and_recovers(connect, hub, health):
    hub.stall_endpoint()
    connection = connect(RecordingHandle(), wait=False)
    server = health(connection)
    status = connection.wait_for(lambda s: "discovery failed: timed out" in s.reason, 3)
    assert status.state in ("disconnected", "connecting") and not status.healthy
    assert healthz(server)[0] == 503 and "timed out" in healthz(server)[1]["detail"]
    hub.stall_endpoint(False)
    assert connection.wait_for(lambda s: s.healthy, 5).healthy
    assert healthz(server)[0] == 200


def test_a_stalled_handshake_times_out_and_recovers(connect, hub):
    hub.stall_handshake()
    connection = connect(RecordingHandle(), wait=False)
    assert "handshake failed: timed out" in connection.wait_for(lambda s: "handshake" in s.reason, 3).reason
    hub.stall_handshake(False)
    assert connection.wait_for(lambda s: s.healthy, 5).healthy


def test_a_deaf_connection_is_noticed_by_the_watchdog_and_replaced(connect, hub, health):
    connection = connect(RecordingHandle(), ping_interval_s=0.2)  # deaf after 3 × 0.2 s of silence
    server = health(connection)
    first = hub.connected_clients()[0].device_id
    hub.mute()
    assert wait_until(lambda: connection.status().reconnects >= 1, 3)
    assert "deaf" in connection.status().reason
    hub.mute(False)
    assert connection.wait_for(lambda s: s.healthy, 3).healthy
    assert wait_until(lambda: [c.device_id for c in hub.connected_clients()] not in ([], [first]), 3)
    assert healthz(server)[0] == 200


def test_health_reports_deaf_even_while_the_loop_cannot_act(connect, hub):
    connection = connect(RecordingHandle())
    connection._heard_at -= 10  # as if nothing had been heard for 10 s while the socket stayed open
    status = connection.status()
    assert status.state == "connected" and status.deaf and not status.healthy
    assert status.explain().startswith("deaf: nothing heard from Feishu for")


def test_wrong_credentials_are_reported_and_retried_with_back_off(connect, hub, sandbox):
    connection = connect(RecordingHandle(), wait=False, app_secret="not-the-secret")
    status = connection.wait_for(lambda s: "1000040345" in s.reason, 3)
    assert not status.healthy and "refused (1000040345: the App ID or App Secret is invalid)" in status.reason
    assert wait_until(lambda: hub.discoveries >= 3, 3)  # it keeps trying, backing off
    assert hub.connected_clients() == []


def test_the_client_follows_the_ping_interval_feishu_pushes_in_a_pong(connect, hub):
    connection = connect(RecordingHandle())
    client = hub.connected_clients()[0]
    hub.configure(PingInterval=3)
    assert wait_until(lambda: client.config_sent["PingInterval"] == 3, 3)
    assert connection.wait_for(lambda s: s.deaf_after_s == 9.0, 2).deaf_after_s == 9.0


def test_metrics_count_reconnects_and_frames_and_may_require_a_token(connect, hub, health):
    connection = connect(RecordingHandle())
    server = health(connection, metrics_token="s3cret")
    assert requests.get(f"{server.url}/metrics", timeout=2).status_code == 401
    assert requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer wrong"},
                        timeout=2).status_code == 401

    def scrape() -> str:
        return requests.get(f"{server.url}/metrics", headers={"Authorization": "Bearer s3cret"}, timeout=2).text

    def value(text: str, sample: str) -> float:
        line = next((ln for ln in text.splitlines() if ln.startswith(sample + " ")), None)
        return float(line.rsplit(" ", 1)[1]) if line else 0.0

    before = scrape()
    assert value(before, "longconn_connected") == 1.0
    assert value(before, 'longconn_state{state="connected"}') == 1.0
    hub.push_event(message_event("ev-metrics"))
    hub.drop_connections()
    assert connection.wait_for(lambda s: s.reconnects == 1 and s.healthy, 5).healthy
    after = scrape()
    frames = 'longconn_frames_total{direction="%s",outcome="ok",type="event"}'
    assert value(after, frames % "in") == value(before, frames % "in") + 1
    assert value(after, frames % "out") == value(before, frames % "out") + 1
    lost = 'longconn_reconnects_total{reason="lost"}'
    assert value(after, lost) == value(before, lost) + 1
