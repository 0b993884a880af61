"""Who is on a manager's team (DESIGN.md): the direct members of the departments the manager leads as main leader,
plus the users of the manager's own departments whose leader_user_id is the manager; paged, cached, refreshed on
demand; contact errors named, never an empty team."""

from __future__ import annotations

import pytest

from cards.messages import user_message
from core.errors import FeishuError, MissingAccess
from core.rules import Actor
from handlers import team
from tests.fakes import FakeGateway, make_context


def person(name: str, departments: list[str], leader: str = "") -> dict:
    return {"user_id": f"u_{name}", "open_id": f"ou_{name}", "name": name.title(), "en_name": name.title(),
            "department_ids": departments, "leader_user_id": f"u_{leader}" if leader else ""}


def world(**extra) -> FakeGateway:
    people = [
        person("boss", ["od-a", "od-b", "od-c"], "ceo"),
        person("ann", ["od-a"], "boss"), person("bob", ["od-a"], ""),  # bob has no leader: od-a's leader decides
        person("cid", ["od-b"], "boss"), person("dee", ["od-b"], "other"),  # od-b is led by someone else
        person("eve", ["od-c"], "other"),  # od-c: boss leads it, eve's own leader is elsewhere
        person("sub", ["od-a-sub"], "boss"),  # a sub-department: not walked
        person("other", ["od-b"], "ceo"), person("ceo", ["od-top"]),
    ]
    gateway = FakeGateway(users={p["user_id"]: p for p in people}, **extra)
    gateway.departments = {"od-a": {"leader_user_id": "u_boss"}, "od-b": {"leader_user_id": "u_other"},
                           "od-c": {"leader_user_id": "u_boss"}, "od-a-sub": {"leader_user_id": "u_boss"},
                           "od-top": {"leader_user_id": "u_ceo"}}
    return gateway


BOSS = Actor("ou_boss", "u_boss")


def test_leader_by_department_by_leader_user_id_and_of_two_departments():
    found = team.team_of(make_context(world()), BOSS)
    # od-a and od-c led: every direct member; od-b not led: only cid, whose leader_user_id is boss
    assert sorted(team.member_ids(found)) == ["u_ann", "u_bob", "u_cid", "u_eve"]
    assert found.led == ("od-a", "od-c") and found.manager == "u_boss"
    assert team.names(found, "en_us")["ou_ann"] == "Ann"


def test_a_manager_with_no_team_gets_an_empty_team_not_an_error():
    assert team.team_of(make_context(world()), Actor("ou_ann", "u_ann")).members == ()


def test_every_page_of_a_department_is_read():
    gateway = world(contact_page=2)
    for i in range(5):
        gateway.users[f"u_p{i}"] = person(f"p{i}", ["od-a"], "")
    found = team.team_of(make_context(gateway), BOSS)
    assert {f"u_p{i}" for i in range(5)} <= set(team.member_ids(found))
    pages = [args for name, args in gateway.calls if name == "user_find_by_department" and args[0] == "od-a"]
    assert len(pages) == 4 and [token for _, token in pages] == ["", "2", "4", "6"]  # 8 members, 2 a page


def test_the_team_is_cached_and_refreshed_on_demand():
    gateway = world()
    ctx = make_context(gateway)
    team.team_of(ctx, BOSS)
    before = len(gateway.calls)
    team.team_of(ctx, BOSS)
    assert len(gateway.calls) == before  # no contact call within the cache's time
    gateway.users["u_new"] = person("new", ["od-a"], "")
    assert "u_new" not in team.member_ids(team.team_of(ctx, BOSS))
    assert "u_new" in team.member_ids(team.team_of(ctx, BOSS, refresh=True))


def test_data_range_errors_name_the_range():
    gateway = world(contact_error=FeishuError(41050, "no user authority error", log_id="log-41050"))
    with pytest.raises(MissingAccess) as caught:
        team.team_of(make_context(gateway), BOSS)
    words = user_message(caught.value, "en_us")
    assert "contact data range" in words and "log-41050" in words
    assert "通讯录数据范围" in user_message(caught.value, "zh_cn")


def test_a_missing_scope_is_named():
    gateway = world(contact_error=FeishuError(99991672, "Access denied. One of the following scopes is required: "
                                                        "[contact:contact.base:readonly, contact:contact:readonly]"))
    with pytest.raises(MissingAccess) as caught:
        team.team_of(make_context(gateway), BOSS)
    assert "contact:contact.base:readonly" in user_message(caught.value, "en_us")


def test_members_listed_without_user_id_mean_the_employee_id_scope_is_missing():
    gateway = world()
    for user in gateway.users.values():
        if user["user_id"] != "u_boss":
            user.pop("user_id")
    with pytest.raises(MissingAccess) as caught:
        team.team_of(make_context(gateway), BOSS)
    assert team.EMPLOYEE_ID_SCOPE in user_message(caught.value, "en_us")


def test_a_requesters_leaders_are_their_leader_and_their_departments_main_leaders():
    ctx = make_context(world())
    assert team.leaders_of(ctx, "u_dee").ids == {"u_other"}  # leader_user_id and od-b's leader alike
    assert team.leaders_of(ctx, "u_eve").ids == {"u_other", "u_boss"}  # own leader, and od-c's leader
    assert team.leaders_of(ctx, "u_other").ids == {"u_ceo"}  # od-b's leader is not their own decider
    assert team.leaders_of(ctx, "u_bob").open_id == "ou_bob"


def test_a_manager_in_the_root_department_counts_the_members_they_lead_there():
    gateway = world()
    gateway.users["u_boss"]["department_ids"].append("0")
    gateway.users["u_top"] = person("top", ["0"], "boss")
    found = team.team_of(make_context(gateway), BOSS)
    assert "u_top" in team.member_ids(found)
    assert ("department_get", "0") not in gateway.calls  # the root has no leader to ask for


def test_a_requester_in_the_root_department_is_led_by_their_leader():
    gateway = world()
    gateway.users["u_top"] = person("top", ["0"], "boss")
    assert team.leaders_of(make_context(gateway), "u_top").ids == {"u_boss"}
