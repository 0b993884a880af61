"""What an action came to (`Outcome`), and what the bot says back (`Reply`: a card, a toast, or both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from core.approval import Approval
from core.errors import FeishuError
from core.records import AuditRecord
from core.rules import Action, Actor, Refused


@dataclass(frozen=True)
class Toast:
    kind: str  # success | info | warning | error
    text: str  # in the default locale: what clients without a language of their own show
    i18n: Mapping[str, str] = field(default_factory=dict)  # locale -> text: each reader sees their own


@dataclass(frozen=True)
class Reply:
    card: Mapping[str, Any] | None = None
    toast: Toast | None = None
    approval_id: str = ""  # the approval the card shows, so later updates reach it
    shows: tuple[str, ...] = ()  # the approvals a list card shows: a change to any of them re-renders it
    view: Mapping[str, Any] | None = None  # who the card is for and what it shows (handlers/copies.py)


class Status(StrEnum):
    DONE = "done"  # Feishu applied it (or had applied it when its answer was lost)
    ALREADY = "already"  # the bot had done it before: nothing sent, who and when are in `previous`
    REFUSED = "refused"  # the rules or the role said no: nothing sent
    FAILED = "failed"  # Feishu refused or could not be reached: see `error`
    BUSY = "busy"  # another action on this approval is under way
    UNKNOWN = "unknown"  # Feishu did not answer and has not applied it yet: the reconciler keeps looking


@dataclass(frozen=True)
class Outcome:
    status: Status
    action: Action
    approval_id: str
    approval: Approval | None = None  # the approval as it now stands (after the action, when done)
    refused: Refused | None = None
    error: FeishuError | None = None
    previous: AuditRecord | None = None  # with ALREADY: the bot's earlier success
    actor: Actor | None = None  # with DONE: who did it
    at: float = 0.0  # when it was done
    reason: str = ""
    approval_type: str = ""  # known even without an instance (attendance-only approvals)
    attendance_only: bool = False  # no approval instance: acted on the attendance id alone
    log_id: str = ""

    @property
    def toast_kind(self) -> str:
        return {Status.DONE: "success", Status.ALREADY: "warning", Status.REFUSED: "warning",
                Status.BUSY: "info", Status.UNKNOWN: "info"}.get(self.status, "error")
