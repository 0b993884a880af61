"""Prometheus metrics, safe under gunicorn's several processes (PROMETHEUS_MULTIPROC_DIR, set by gunicorn.conf.py)."""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

EVENTS = Counter("bot_events_total", "Verified events and callbacks by type and outcome", ["type", "outcome"])
ACTIONS = Counter("bot_actions_total", "Attempted approval actions by action and outcome", ["action", "outcome"])
REJECTED = Counter("webhook_rejected_total", "Webhook requests refused, by reason", ["reason"])
DEDUP_HITS = Counter("bot_dedup_hits_total", "Re-delivered events and replayed callbacks answered without effect")
IGNORED = Counter("events_ignored_total", "Verified events of types the bot does not handle", ["type"])
FEISHU_LATENCY = Histogram(
    "feishu_api_seconds", "Open API call latency by endpoint and outcome", ["endpoint", "outcome"],
    buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0),
)
# One per store transaction (a connection checkout: a read, or a write transaction of one or more statements):
# bench/ divides it by the clicks it sent, so a click path that grows a round trip shows.
STORE_ROUND_TRIPS = Counter("bot_store_round_trips_total", "Store transactions, by kind", ["kind"])
CLOCK_SKEW = Histogram(
    "webhook_clock_skew_seconds", "now minus X-Lark-Request-Timestamp of accepted requests",
    buckets=(-60, -10, -1, 0, 1, 5, 10, 30, 60, 120, 300),
)


def count_answer(event_type: str, outcome: str) -> None:
    """One verified delivery and what came of it (handlers/pipeline.py names the outcomes)."""
    event_type = event_type[:64]
    EVENTS.labels(event_type, outcome).inc()
    if outcome == "duplicate":
        DEDUP_HITS.inc()
    elif outcome == "ignored":
        IGNORED.labels(event_type).inc()


def observe_feishu(endpoint: str, seconds: float, outcome: str) -> None:
    FEISHU_LATENCY.labels(endpoint, outcome).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text format; merged over every worker when running under gunicorn."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and os.path.isdir(directory):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=directory)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
