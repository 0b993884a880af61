"""Names for the ids a card shows: people through contact `users/batch` (at most 50 ids a call), departments
through contact department GET, behind one cache per process.

The cache is bounded (least recently used entries go first), entries live an hour, an id the contact API does
not know (or may not show: outside the app's contact data range) is remembered as unknown for a few minutes,
and after a failing contact call names are not looked up for half a minute, so that a contact API that is down
costs one click its timeout, not every click. Once a name is known, no contact call is made for it: a click
that shows it pays nothing (docs/feishu.md, "Names").

Names are a nicety: every lookup stays within `NAME_BUDGET_S`, and what is not named stays unnamed (the card
says "Someone (…)" or counts the unnamed, never shows an unusable id).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import cards
from core.errors import FeishuError
from handlers.expiring import ExpiringCache
from handlers.ports import Gateway

USERS_PER_CALL = 50  # contact-v3_user_batch: at most 50 user_ids in one call
NAME_BUDGET_S = 1.0  # all the contact calls of one card: names must never eat the answer budget
TTL_S = 3600.0
MISSING_TTL_S = 300.0  # someone added to the contact data range is named within minutes
FAILED_PAUSE_S = 30.0
MAX_ENTRIES = 10_000
USER_ID_TYPES = ("open_id", "user_id", "union_id")
DEPARTMENT_ID_TYPES = ("open_department_id", "department_id")
# Answers that say "these ids cannot be named" (unknown, outside the contact data range, malformed): remembered
# as unknown. Anything else (timeout, 5xx, rate limit, no scope) is a failure: nothing remembered, a pause.
NOT_FOUND_CODES = frozenset({40001, 40004, 40015, 41050})

DEPARTMENT_ID = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_\-@.]{0,63}$")  # contact-v3_department_get: the path id
USER_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")

CONTACT = "contact"  # a timeout, 5xx or rate limit: the whole contact API waits, not one id type
_TRANSPORT = frozenset({"timeout", "network", "server", "rate_limit"})

Key = tuple[str, str, str]  # ("user" | "department", id type, id)
_MISSING: Mapping[str, str] = {}


class NameCache:
    """id → names by locale; thread-safe, size-bounded LRU with a TTL and short-lived "unknown" entries."""

    def __init__(self, max_entries: int = MAX_ENTRIES, ttl_s: float = TTL_S, missing_ttl_s: float = MISSING_TTL_S,
                 failed_pause_s: float = FAILED_PAUSE_S, clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl_s = ttl_s
        self._missing_ttl_s = missing_ttl_s
        self._failed_pause_s = failed_pause_s
        self._clock = clock
        self._lock = threading.Lock()
        self._items = ExpiringCache(max_entries, clock)
        self._paused_until: dict[str, float] = {}

    def get(self, key: Key) -> Mapping[str, str] | None:
        """The names by locale; an empty mapping for an id known to have none; None when not cached."""
        return self._items.get(key)

    def put(self, key: Key, by_locale: Mapping[str, str] | None) -> None:
        """Remember names (None: the id has none the bot may see, for a shorter while)."""
        value = dict(by_locale) if by_locale else _MISSING
        self._items.put(key, value, self._ttl_s if value else self._missing_ttl_s)

    def failed(self, what: str) -> None:
        """A contact call for `what` ("user:open_id", "department") failed: skip those for a while."""
        with self._lock:
            self._paused_until[what] = self._clock() + self._failed_pause_s

    def paused(self, what: str) -> bool:
        """Whether calls for `what` wait: that kind of call failed, or the contact API itself ("contact")."""
        now = self._clock()
        with self._lock:
            return now < max(self._paused_until.get(what, 0.0), self._paused_until.get(CONTACT, 0.0))

    def __len__(self) -> int:
        return len(self._items)


def user_id_type(ident: str) -> str:
    """The id type of a person's id as Feishu writes them: ou_… open_id, on_… union_id, else a user_id."""
    if ident.startswith("ou_"):
        return "open_id"
    if ident.startswith("on_"):
        return "union_id"
    return "user_id"


def department_id_type(ident: str) -> str:
    """od-… is an open_department_id; anything else a (custom) department_id."""
    return "open_department_id" if ident.startswith("od-") else "department_id"


def lookup(feishu: Gateway, cache: NameCache, locale: str, users: Iterable[tuple[str, str]] = (),
           departments: Iterable[tuple[str, str]] = (), *, budget_s: float = NAME_BUDGET_S) -> dict[str, cards.Name]:
    """id → name (a :class:`cards.Name`, worded per reader; `locale` when used as a plain string) for each
    (id, id type) that has one, within `budget_s`. People cost one `users/batch` call per 50 uncached ids of one
    id type; departments one GET each; cached ids nothing."""
    deadline = time.monotonic() + budget_s
    names: dict[str, cards.Name] = {}
    users = [(i, t if t in USER_ID_TYPES else user_id_type(str(i))) for i, t in users]
    departments = [(i, t if t in DEPARTMENT_ID_TYPES else department_id_type(str(i))) for i, t in departments]
    wanted_users = _uncached(cache, "user", users, names, locale)
    wanted_departments = _uncached(cache, "department", departments, names, locale)
    if wanted_users or wanted_departments:
        _users(feishu, cache, wanted_users, deadline)
        if not cache.paused("department"):
            _departments(feishu, cache, wanted_departments, deadline)
        for kind, wanted in (("user", wanted_users), ("department", wanted_departments)):
            _uncached(cache, kind, wanted, names, locale)
    return names


def _uncached(cache: NameCache, kind: str, ids: Iterable[tuple[str, str]], names: dict[str, cards.Name],
              locale: str) -> list[tuple[str, str]]:
    """Fill `names` from the cache; the (id, id type) pairs it does not hold, each once."""
    missing = []
    for ident, id_type in dict.fromkeys((str(i), str(t)) for i, t in ids if i):
        found = cache.get((kind, id_type, ident))
        if found is None:
            missing.append((ident, id_type))
        elif found:
            names[ident] = cards.Name(found, locale)
    return missing


def _users(feishu: Gateway, cache: NameCache, wanted: list[tuple[str, str]], deadline: float) -> bool:
    """users/batch per id type, 50 ids a call, open_ids first: their answers name the same people's user_ids
    too, which then cost nothing. False once a call failed (that id type pauses)."""
    by_type: dict[str, list[str]] = {t: [] for t in USER_ID_TYPES}
    for ident, id_type in wanted:
        if not USER_ID.match(ident):  # no one's id: nothing to ask
            cache.put(("user", id_type, ident), None)
            continue
        by_type[id_type].append(ident)
    ok = True
    for id_type, ids in by_type.items():
        ids = [i for i in ids if cache.get(("user", id_type, i)) is None]
        if not ids or cache.paused(f"user:{id_type}"):
            continue
        for start in range(0, len(ids), USERS_PER_CALL):
            chunk = ids[start:start + USERS_PER_CALL]
            if time.monotonic() >= deadline:
                return False
            try:
                found = feishu.users_batch(chunk, id_type, deadline=deadline)
            except FeishuError as err:
                if err.code not in NOT_FOUND_CODES:
                    cache.failed(_failed(err, f"user:{id_type}"))
                    ok = False
                    break
                found = []
            _remember_users(cache, id_type, chunk, found)
    return ok


def _failed(err: FeishuError, what: str) -> str:
    """What a failure pauses: the contact API when it did not answer; else that kind of call (no scope …)."""
    return CONTACT if err.kind in _TRANSPORT else what


def _remember_users(cache: NameCache, id_type: str, asked: list[str], found: list[Mapping[str, Any]]) -> None:
    for user in found:
        by_locale = {"zh_cn": str(user.get("name") or ""), "en_us": str(user.get("en_name") or user.get("name") or "")}
        for alias in USER_ID_TYPES:  # the same person under each id the answer gives
            if user.get(alias):
                cache.put(("user", alias, str(user[alias])), by_locale if by_locale["zh_cn"] else None)
    answered = {str(u.get(id_type)) for u in found}
    for ident in asked:  # left out of the answer: unknown, or outside the app's contact data range
        if ident not in answered:
            cache.put(("user", id_type, ident), None)


def _departments(feishu: Gateway, cache: NameCache, wanted: list[tuple[str, str]], deadline: float) -> None:
    for ident, id_type in wanted:
        if time.monotonic() >= deadline:
            return
        if not DEPARTMENT_ID.match(ident):  # no such department: nothing to ask
            cache.put(("department", id_type, ident), None)
            continue
        try:
            department = feishu.department(ident, id_type, deadline=deadline)
        except FeishuError as err:
            if err.code not in NOT_FOUND_CODES:
                cache.failed(_failed(err, "department"))
                return
            department = {}
        i18n = department.get("i18n_name") if isinstance(department.get("i18n_name"), Mapping) else {}
        name = str(department.get("name") or "")
        by_locale = {"zh_cn": str(i18n.get("zh_cn") or name), "en_us": str(i18n.get("en_us") or name)}
        cache.put(("department", id_type, ident), by_locale if name or any(by_locale.values()) else None)
        for alias in DEPARTMENT_ID_TYPES:
            if department.get(alias) and name:
                cache.put(("department", alias, str(department[alias])), by_locale)
