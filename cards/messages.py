"""Failures and refusals into one manager-readable line (zh_cn / en_us), with the Feishu log id for support."""

from __future__ import annotations

import cards
from core.errors import FeishuError, MissingAccess
from core.rules import Refused

# Feishu codes with a line of their own in the catalogue (seed 000, seed 004, generic Open API codes).
KNOWN_CODES = frozenset(
    {
        1220001, 1220002, 1220004, 1220005, 1220600, 1225000, 1226500, 1227500,
        1390001, 1390003, 1390004, 1390009, 1395001,
        99991400, 99991661, 99991663, 99991668, 99991672, 99991543, 10014,
    }
)


DATA_RANGE = "contact data range"  # handlers/team.py names the range this way


def _type_name(value: str, locale: str) -> str:
    try:
        return cards.text(f"type.{value}", locale)
    except KeyError:
        return value


def refusal_message(refused: Refused, locale: str) -> str:
    params = dict(refused.params)
    for key in ("type", "actual", "given"):
        if key in params:
            params[key] = _type_name(params[key], locale)
    if "possible" in params:
        params["possible"] = ", ".join(
            cards.text(f"action.{a}", locale) for a in params["possible"].split(",") if a
        )
    if "action" in params:
        params["action"] = cards.text(f"action.{params['action']}", locale)
    if "status" in params:
        try:
            params["status"] = cards.text(f"status.{params['status']}", locale)
        except KeyError:
            pass
    return cards.text(f"refusal.{refused.key}", locale, **params)


def user_message(err: FeishuError, locale: str) -> str:
    if isinstance(err, MissingAccess):
        needs = err.needs  # a scope's name, or the data range ("contact data range: <whose>")
        if needs.startswith(DATA_RANGE):
            needs = cards.text("error.data_range", locale) + needs[len(DATA_RANGE):]
        text = cards.text("error.missing_access", locale, needs=needs)
    elif err.kind == "timeout":
        text = cards.text("error.timeout", locale)
    elif err.kind == "network":
        text = cards.text("error.unreachable", locale)
    elif err.code in KNOWN_CODES:
        text = cards.text(f"error.feishu.{err.code}", locale)
    elif err.kind == "server":
        text = cards.text("error.server", locale, status=str(err.http_status or ""))
    else:
        text = cards.text("error.unknown", locale, code=str(err.code), msg=err.msg[:200])
    if err.log_id:
        text = f"{text} {cards.text('error.log_id', locale, log_id=err.log_id)}"
    return text
