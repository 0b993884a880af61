"""`approval-bot check-config --online`: try what the bot needs from Feishu and the store, one line per check.

Each check says what it tried and, when it failed, what to do. Nothing here acts on an approval: the store
check takes and releases a lock, the subscriptions are the ones the bot makes at start-up anyway (idempotent),
and the rest are reads.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from bot.config import Config

# What each feature needs; any one scope of a group is enough (the permission tables of the API pages).
FEATURE_SCOPES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("approval cards (instance lookup)", ("approval:approval", "approval:approval:readonly", "approval:instance")),
    ("/pending (tasks/query)", ("approval:approval:readonly",)),
    ("approve and reject native approvals (tasks)", ("approval:approval", "approval:approval:readonly",
                                                    "approval:task")),
    ("approval event subscriptions", ("approval:approval", "approval:definition")),
    ("acting on attendance records (approval_infos/process)", ("attendance:task",)),
    ("reading attendance records (remedy and approval queries)", ("attendance:task:readonly",)),
    ("contact users and departments", ("contact:contact.base:readonly", "contact:contact:access_as_app",
                                       "contact:contact:readonly", "contact:contact:readonly_as_app")),
    ("names of people", ("contact:user.base:readonly",)),
    ("a person's departments and leader", ("contact:user.department:readonly",)),
    ("a department's leader", ("contact:department.organize:readonly",)),
    ("user ids (attendance employee ids)", ("contact:user.employee_id:readonly",)),
    ("messages in one-to-one chats", ("im:message.p2p_msg:readonly",)),
    ("@mentions in groups", ("im:message.group_at_msg:readonly",)),
    ("sending cards", ("im:message:send_as_bot",)),
    ("updating cards", ("im:message:update",)),
)

_CREDENTIAL_CODES = frozenset({10003, 10014, 99991543, 99991661, 99991663, 99991668})
_SUBSCRIBE_HINTS = {
    1390002: "no approval definition has this code: copy it from the definition's URL in the Approval admin",
    1390009: "the app may not subscribe this definition: grant approval:approval or approval:definition",
    99991672: "the app lacks approval:approval or approval:definition",
}


class Gateway(Protocol):
    def bot_info(self) -> dict[str, Any]: ...
    def subscribe_approval(self, approval_code: str) -> bool: ...
    def granted_scopes(self) -> frozenset[str]: ...


class Store(Protocol):
    def acquire_lock(self, name: str, owner: str, ttl_s: float, now: float) -> bool: ...
    def release_lock(self, name: str, owner: str) -> bool: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Check:
    name: str  # what was tried: "token", "store", "subscribe <code>", "scopes"
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok     ' if self.ok else 'PROBLEM'} {self.name}: {self.detail}"


def run_online_checks(config: Config, gateway: Gateway, open_store: Callable[[str], Store],
                      now: Callable[[], float]) -> list[Check]:
    """Every online check, in order; a failed token stops the Feishu checks (each would fail the same way)."""
    checks = [check_store(config.database_url, open_store, now())]
    token = check_token(config, gateway)
    checks.append(token)
    if not token.ok:
        checks.append(Check("Feishu checks", False, "skipped: fix the credentials first"))
        return checks
    checks += check_subscriptions(config.approval_codes, gateway)
    checks += check_scopes(gateway)
    return checks


def check_token(config: Config, gateway: Gateway) -> Check:
    try:
        bot = gateway.bot_info()
    except Exception as err:  # noqa: BLE001 - any failure is a line for the admin, never a traceback
        return Check("token", False, _feishu_failure(err, config))
    name = str(bot.get("app_name") or bot.get("open_id") or "the bot")
    return Check("token", True, f"tenant token issued for {config.app_id}; bot {name!s:.60} is enabled")


def check_store(database_url: str, open_store: Callable[[str], Store], now: float) -> Check:
    """Open the store (creating its tables) and write to it: take a lock and release it."""
    where = _masked(database_url)
    try:
        store = open_store(database_url)
        try:
            owner = uuid.uuid4().hex
            name = f"check-config:{owner}"
            if not store.acquire_lock(name, owner, 5.0, now) or not store.release_lock(name, owner):
                return Check("store", False, f"{where} accepted no write (a lock could not be taken)")
        finally:
            store.close()
    except Exception as err:  # noqa: BLE001 - unreachable host, bad credentials, read-only file, …
        return Check("store", False, f"{where} is not usable: {_short(err, database_url)}")
    return Check("store", True, f"{where} is reachable and writable")


def check_subscriptions(codes: Sequence[str], gateway: Gateway) -> list[Check]:
    if not codes:
        return [Check("subscriptions", True, "BOT_APPROVAL_CODES is empty: no approval events will arrive "
                                             "(cards come only from commands)")]
    out = []
    for code in codes:
        try:
            new = gateway.subscribe_approval(code)
        except Exception as err:  # noqa: BLE001
            code_no = getattr(err, "code", None)
            hint = f"code {code_no}: {_SUBSCRIBE_HINTS[code_no]}" if code_no in _SUBSCRIBE_HINTS else _short(err)
            out.append(Check(f"subscribe {code}", False, f"refused ({hint})"))
            continue
        out.append(Check(f"subscribe {code}", True, "subscribed" if new else "already subscribed"))
    return out


def check_scopes(gateway: Gateway) -> list[Check]:
    try:
        granted = gateway.granted_scopes()
    except Exception as err:  # noqa: BLE001
        return [Check("scopes", False, f"the app's scopes could not be listed ({_short(err)}); "
                                       "check them in the developer console (Permissions & Scopes)")]
    missing = list(missing_scopes(granted))
    if not missing:
        return [Check("scopes", True, f"every feature has a scope it needs ({len(FEATURE_SCOPES)} features)")]
    return [Check("scopes", False, f"{feature} needs {' or '.join(scopes)}: grant it in the developer console "
                                   "and publish a new version") for feature, scopes in missing]


def missing_scopes(granted: Iterable[str]) -> Iterable[tuple[str, tuple[str, ...]]]:
    have = set(granted)
    return ((feature, scopes) for feature, scopes in FEATURE_SCOPES if not have & set(scopes))


def _feishu_failure(err: Exception, config: Config) -> str:
    kind = getattr(err, "kind", "")
    code = getattr(err, "code", None)
    if kind in ("network", "timeout"):
        return f"Feishu at {config.base_url} could not be reached ({kind}): check FEISHU_BASE_URL and the network"
    if code in _CREDENTIAL_CODES:
        return f"Feishu refused the app credentials (code {code}): check FEISHU_APP_ID and FEISHU_APP_SECRET"
    return f"the bot could not be reached through the API ({_short(err)}): enable the bot capability and publish"


def _masked(url: str) -> str:
    """The database URL without its password."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def _short(err: Exception, secret_source: str = "") -> str:
    text = " ".join(str(getattr(err, "msg", "") or err).split())[:160] or type(err).__name__
    if secret_source:
        password = re.search(r"://[^:/@]*:([^@]*)@", secret_source)
        if password and password.group(1):
            text = text.replace(password.group(1), "***")
    code = getattr(err, "code", None)
    log_id = getattr(err, "log_id", "")
    shown = f"code {code}: {text}" if isinstance(code, int) and code > 0 else f"{type(err).__name__}: {text}"
    return f"{shown}; log id {log_id}" if log_id else shown
