"""Who is on a manager's team, and who leads a requester: from contact v3, cached for a bounded time.

DESIGN.md ("Where an approval lives"): a manager's team is the direct members of every department whose main
leader (`leader_user_id`; deputies do not count) is the manager, plus the users of the manager's own departments
whose `leader_user_id` is the manager. Sub-departments are not walked. Contact's `user_id` is attendance's
`employee_id`. The departments looked at are the manager's own (`department_ids` of `users/:id`): contact offers
no lookup of "the departments this user leads" among the pages the bot follows (docs/feishu.md).

Every id is asked for as `user_id` (the attendance id). A member listed without `user_id` means the field scope
`contact:user.employee_id:readonly` is missing (Feishu leaves the field out), and 41050 / 40004 mean the contact
data range leaves someone out: both are a `MissingAccess` naming what is missing, never an empty team.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import FeishuError, MissingAccess
from core.rules import Actor
from handlers import fanout
from handlers.context import Context
from handlers.expiring import ExpiringCache

TTL_S = 600.0  # a team changes rarely; `/team refresh` asks again at once
MAX_PAGES = 40  # 40 pages of 50: a department of 2,000 direct members is read whole, a loop never runs away
MAX_CACHED = 2000
EMPLOYEE_ID_SCOPE = "contact:user.employee_id:readonly"
DATA_RANGE = "contact data range"
OUT_OF_RANGE = frozenset({41050, 40004})  # users / departments outside the app's contact data range
NO_SCOPE = 99991672
ROOT = "0"
BASE_SCOPE = "contact:contact.base:readonly"
SCOPE = re.compile(r"contact:[a-z_.:]+[a-z]")


@dataclass(frozen=True)
class Member:
    user_id: str  # = attendance employee_id
    open_id: str
    name: str = ""
    en_name: str = ""

    def name_in(self, locale: str) -> str:
        return (self.en_name if locale == "en_us" and self.en_name else self.name) or ""


@dataclass(frozen=True)
class Team:
    manager: str  # the manager's user_id
    members: tuple[Member, ...]
    led: tuple[str, ...]  # the departments the manager leads as main leader

    def by_user_id(self) -> dict[str, Member]:
        return {m.user_id: m for m in self.members}


@dataclass(frozen=True)
class Leaders:
    """A requester as contact sees them: their open_id and who leads them (user_ids and open_ids)."""

    open_id: str
    ids: frozenset[str]


def _cache(ctx: Context, name: str) -> ExpiringCache:
    return ctx.memo.setdefault(f"team.{name}", ExpiringCache(MAX_CACHED))  # dict.setdefault is atomic under the GIL


def _contact(err: FeishuError, what: str) -> FeishuError:
    """A contact refusal as what it means for a team: the data range or the scope, named; anything else as it
    came. Feishu's 99991672 message lists the scopes that would do ("[contact:contact.base:readonly, …]")."""
    if isinstance(err, MissingAccess):
        return err
    if err.code in OUT_OF_RANGE:
        return MissingAccess(f"{DATA_RANGE}: {what}", code=err.code, msg=err.msg, log_id=err.log_id)
    if err.code == NO_SCOPE:
        scopes = ", ".join(dict.fromkeys(SCOPE.findall(err.msg))) or BASE_SCOPE
        return MissingAccess(scopes, code=err.code, msg=err.msg, log_id=err.log_id)
    return err


def manager_of(ctx: Context, actor: Actor) -> Mapping[str, Any]:
    """The actor's own contact record (by open_id), with `user_id` and `department_ids`."""
    cached = _cache(ctx, "self").get(actor.open_id or actor.user_id)
    if cached is not None:
        return cached
    try:
        if actor.open_id:
            user = ctx.feishu.get_user(actor.open_id, "open_id")
        else:
            user = ctx.feishu.get_user(actor.user_id, "user_id")
    except FeishuError as err:
        raise _contact(err, actor.open_id or actor.user_id) from None
    if not user.get("user_id"):
        raise MissingAccess(EMPLOYEE_ID_SCOPE)
    _cache(ctx, "self").put(actor.open_id or actor.user_id, user, TTL_S)
    return user


def with_user_id(ctx: Context, actor: Actor) -> Actor:
    """The actor with their contact user_id (what attendance and the leaders' ids are in)."""
    if actor.user_id:
        return actor
    return Actor(open_id=actor.open_id, user_id=str(manager_of(ctx, actor).get("user_id") or ""))


def team_of(ctx: Context, actor: Actor, *, refresh: bool = False) -> Team:
    """The actor's team (cached for TTL_S; `refresh` asks contact again). Raises FeishuError / MissingAccess."""
    key = actor.open_id or actor.user_id
    cache = _cache(ctx, "teams")
    if refresh:
        cache.drop(key)
        _cache(ctx, "self").drop(key)
    found = cache.get(key)
    if found is not None:
        return found
    me = manager_of(ctx, actor)
    manager = str(me["user_id"])
    departments = [str(d) for d in me.get("department_ids") or () if d]
    try:
        listed = fanout.run_all([lambda d=d: _department(ctx, d) for d in departments])
    except FeishuError as err:
        raise _contact(err, "departments of " + key) from None
    members: dict[str, Member] = {}
    led = []
    for department, (leader, users) in zip(departments, listed, strict=True):
        if leader == manager:
            led.append(department)
        for user in users:
            uid = str(user.get("user_id") or "")
            if not uid:
                raise MissingAccess(EMPLOYEE_ID_SCOPE)
            if uid != manager and (leader == manager or str(user.get("leader_user_id") or "") == manager):
                members.setdefault(uid, Member(uid, str(user.get("open_id") or ""), str(user.get("name") or ""),
                                               str(user.get("en_name") or "")))
    team = Team(manager, tuple(members.values()), tuple(led))
    cache.put(key, team, TTL_S)
    return team


def _department(ctx: Context, department: str) -> tuple[str, list[Mapping[str, Any]]]:
    """A department's main leader and every direct member (all pages)."""
    # the root department ("0") has no main leader; its members whose leader is the manager still count
    leader = "" if department == ROOT else str(ctx.feishu.get_department(department, "user_id")
                                               .get("leader_user_id") or "")
    users: list[Mapping[str, Any]] = []
    token = ""
    for _ in range(MAX_PAGES):
        page, token = ctx.feishu.department_users(department, token, "user_id")
        users.extend(page)
        if not token:
            break
    return leader, users


def leaders_of(ctx: Context, employee_id: str) -> Leaders:
    """Who may decide on this requester's records: their `leader_user_id` and the main leader of each of their
    departments (DESIGN.md "Who may act"), by user_id and open_id. Cached for TTL_S."""
    cache = _cache(ctx, "leaders")
    found = cache.get(employee_id)
    if found is not None:
        return found
    try:
        user = ctx.feishu.get_user(employee_id, "user_id")
        departments = [str(d) for d in user.get("department_ids") or () if d and str(d) != ROOT]
        heads = fanout.run_all([lambda d=d: ctx.feishu.get_department(d, "user_id") for d in departments])
    except FeishuError as err:
        raise _contact(err, employee_id) from None
    ids = {str(user.get("leader_user_id") or "")} | {str(h.get("leader_user_id") or "") for h in heads}
    ids.discard("")
    ids.discard(employee_id)  # nobody decides their own request, even as their department's leader
    leaders = Leaders(str(user.get("open_id") or ""), frozenset(ids))
    cache.put(employee_id, leaders, TTL_S)
    return leaders


def names(team: Team, locale: str) -> dict[str, str]:
    """Names the listing gave, by user_id and open_id (no further contact calls for them)."""
    out: dict[str, str] = {}
    for member in team.members:
        name = member.name_in(locale)
        if name:
            out[member.user_id] = name
            if member.open_id:
                out[member.open_id] = name
    return out


def member_ids(team: Team) -> Sequence[str]:
    return [m.user_id for m in team.members]
