"""Values the store and the gateway hand to the application: claims, audit records, a page of tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ClaimResult(StrEnum):
    NEW = "new"  # process it now
    DONE = "done"  # already processed: acknowledge, do nothing
    BUSY = "busy"  # another delivery holds an unexpired claim: answer non-200 so Feishu retries


# The audit outcome of an intent written before the kinds of approval (store v2 migration; handlers/maintenance.py)
NOT_REPLAYABLE = "not_replayable"


@dataclass(frozen=True)
class AuditRecord:
    approval_id: str
    action: str
    operator: str
    outcome: str
    approval_type: str = ""
    reason: str = ""
    code: int | None = None
    log_id: str = ""
    message: str = ""
    at: float = 0.0
    id: int | None = None


@dataclass(frozen=True)
class TaskPage:
    """One page of a user's approval tasks (approval v4 `tasks/query`)."""

    tasks: tuple[Mapping[str, Any], ...]
    next_token: str | None
    total: int | None


@dataclass(frozen=True)
class Intent:
    """An action about to be sent to Feishu, written down first (handlers/maintenance.py settles what a dead
    worker left)."""

    intent_id: str
    approval_id: str
    action: str
    operator: str
    detail: Mapping[str, Any]


@dataclass(frozen=True)
class ActionStart:
    """What one store transaction found when an action began: whether the approval's lock was taken, the last
    success on it, and whether the intent was written (it is not when someone acted after the lookup the
    decision rests on: the caller looks again first)."""

    locked: bool
    previous: AuditRecord | None = None
    intent_written: bool = False
