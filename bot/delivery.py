"""What the two transports share once a delivery is authentic: the plaintext envelope's id and type, the status
an answer's outcome maps to, and counting it (docs/architecture.md, "Answers").

The webhook (bot/webhook.py) gets here after signature, timestamp, decryption and token; the long connection
(bot/longconn.py) after Feishu authenticated the connection itself.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bot import metrics
from bot.feishu import parse_event
from core.inbound import Inbound

# Events (never callbacks, which are always 200 with a toast): a held claim, a crash, a reply that could not be
# sent or a store that cannot be written asks Feishu to retry. A verified event whose content the bot cannot use
# is 200: a re-push would not help.
_EVENT_STATUS = {"busy": 503, "error": 503, "unavailable": 503}


def status_for(outcome: str, callback: bool) -> int:
    return 200 if callback else _EVENT_STATUS.get(outcome, 200)


def plain_envelope(payload: Mapping[str, Any], app_id: str) -> tuple[str, str] | None:
    """(event_type, event_id) of a v2 (`schema` 2.0) or v1 (`event_callback`) payload; None when it is not one
    of ours (wrong shape, or another app's)."""
    header = payload.get("header")
    if isinstance(header, Mapping):
        event_type, event_id, owner = header.get("event_type"), header.get("event_id"), header.get("app_id")
    else:
        event = payload.get("event")
        if not isinstance(event, Mapping):
            return None
        event_type, event_id, owner = event.get("type"), payload.get("uuid"), event.get("app_id")
    if not (isinstance(event_type, str) and event_type and isinstance(event_id, str) and event_id):
        return None
    if owner is not None and owner != app_id:
        return None
    return event_type, event_id


Dispatch = Callable[[Inbound, float], Any]


def deliver(dispatch: Dispatch, event_type: str, event_id: str, payload: Mapping[str, Any],
            deadline: float) -> tuple[int, Any]:
    """Parse, dispatch, count; (HTTP-like status, the answer)."""
    return dispatch_counted(dispatch, parse_event(event_type, event_id, payload), deadline)


def deliver_without_work(settle: Callable[[Inbound], Any], event_type: str, event_id: str,
                         payload: Mapping[str, Any]) -> tuple[int, Any] | None:
    """Parse, and when the pipeline answers it without work (`handlers.pipeline.settle_without_work`), count;
    (HTTP-like status, the answer), or None when it may need work."""
    inbound = parse_event(event_type, event_id, payload)
    answer = settle(inbound)
    if answer is None:
        return None
    metrics.count_answer(inbound.event_type, answer.outcome)
    return status_for(answer.outcome, answer.callback), answer


def dispatch_counted(dispatch: Dispatch, inbound: Inbound, deadline: float) -> tuple[int, Any]:
    """Dispatch an inbound value already read, count what came of it; (HTTP-like status, the answer)."""
    answer = dispatch(inbound, deadline)
    metrics.count_answer(inbound.event_type, answer.outcome)
    return status_for(answer.outcome, answer.callback), answer
