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
