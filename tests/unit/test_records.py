"""Finding a team's attendance records within the queries' limits, remembering them, and acting on them as
first-class approvals: who may act, `/revoke <id>` without a type, `/pending` with both worlds, a query that
outlives the answer budget, and the intent before every process call."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

from core.rules import Action, Actor
from handlers import pending, records, team
from handlers.chat import CommandCall
from handlers.workflow import ActionRequest, perform
from tests import cardwalk
from tests.fakes import FakeGateway, make_context, message

TODAY = date(2026, 11, 20)


def person(name: str, departments: list[str], leader: str = "") -> dict:
    return {"user_id": f"u_{name}", "open_id": f"ou_{name}", "name": name.title(), "en_name": name.title(),
            "department_ids": departments, "leader_user_id": f"u_{leader}" if leader else ""}


def remedy(approval_id: str, user: str, status: int = 0, day: int = 20261119) -> dict:
    return {"kind": "remedy", "approval_id": approval_id, "user_id": f"u_{user}", "status": status,
            "remedy_date": day, "punch_no": 0, "work_type": 1, "remedy_time": "2026-11-19 09:00",
            "reason": "forgot", "time_zone": "Asia/Shanghai"}


def leave(approval_id: str, user: str, status: int = 2) -> dict:
    return {"kind": "leave", "approval_id": approval_id, "user_id": f"u_{user}", "status": status,
            "interval": 28800, "unit": 1, "start_time": "2026-11-18 09:00:00", "end_time": "2026-11-18 18:00:00",
            "i18n_names": {"ch": "年假", "en": "Annual leave"}, "default_locale": "ch", "reason": "rest"}


def world(**extra) -> FakeGateway:
    people = [person("boss", ["od-a"], "ceo"), person("ann", ["od-a"], "boss"), person("bob", ["od-a"]),
              person("rival", ["od-b"], "ceo"), person("zed", ["od-b"], "rival"), person("ceo", ["od-top"])]
    gateway = FakeGateway(users={p["user_id"]: p for p in people}, **extra)
    gateway.departments = {"od-a": {"leader_user_id": "u_boss"}, "od-b": {"leader_user_id": "u_rival"},
                           "od-top": {"leader_user_id": "u_ceo"}}
    gateway.records = [remedy("7001", "ann"), remedy("7002", "bob"), remedy("7009", "zed"), leave("7101", "ann"),
                       remedy("7003", "ann", status=2)]
    return gateway


BOSS = Actor("ou_boss", "u_boss")


def found_by(ctx, actor: Actor) -> None:
    """The manager's /team: what it lists is remembered."""
    pending.team_reply(ctx, actor)


# -- the queries' limits -------------------------------------------------------------------------------------------


def test_51_members_take_two_remedy_calls_per_status():
    gateway = FakeGateway()
    ctx = make_context(gateway)
    ids = [f"u_{i}" for i in range(51)]
    search = records.search(ctx, ids, deadline=time.monotonic() + 5, remedy_statuses=(0, 2))
    assert search.complete
    calls = [q for q in gateway.queried if q[0] == "remedy_query"]
    assert sorted((len(q[1]), q[4]) for q in calls) == [(1, 0), (1, 2), (50, 0), (50, 2)]
    assert all(set(q[1]) <= set(ids) for q in calls) and {i for q in calls for i in q[1]} == set(ids)


def test_a_45_day_window_takes_two_approval_ranges_none_past_tomorrow():
    gateway = FakeGateway()
    ctx = make_context(gateway, attendance_lookback_days=45)
    records.search(ctx, ["u_a"], deadline=time.monotonic() + 5, remedy_statuses=(), approval_statuses=(2,))
    ranges = sorted((q[2], q[3]) for q in gateway.queried if q[0] == "user_approval_query")
    assert len(ranges) == 2
    days = [(date(a // 10000, a // 100 % 100, a % 100), date(b // 10000, b // 100 % 100, b % 100)) for a, b in ranges]
    assert all((hi - lo).days <= 30 for lo, hi in days)
    assert days[0][0] == TODAY - timedelta(days=44) and days[-1][1] == TODAY + timedelta(days=1)
    assert days[1][0] == days[0][1] + timedelta(days=1)  # no gap, no overlap


def test_the_default_window_is_one_approval_range():
    gateway = FakeGateway()
    records.search(make_context(gateway), ["u_a"], deadline=time.monotonic() + 5, remedy_statuses=(),
                   approval_statuses=(2,))
    assert len(gateway.queried) == 1


def test_a_slow_query_outlives_the_budget_and_arrives_as_an_update():
    release = threading.Event()

    def slow(endpoint: str) -> None:
        if endpoint == "remedy_query":
            release.wait(5)

    gateway = world(on_query=slow)
    with ThreadPoolExecutor(2) as pool:
        ctx = make_context(gateway, pool=pool, sleep=time.sleep)
        started = time.monotonic()
        reply = pending.list_reply(ctx, BOSS)
        assert time.monotonic() - started < pending.SEARCH_BUDGET_S + 1.0  # answered within the budget
        text = str(reply.card)
        assert "Still looking" in text and "7001" not in text
        loading = [s for s in reply.shows if s.startswith("loading:")]
        assert loading
        ctx.store.remember_card(loading[0], "om_list", ctx.clock())  # the reply was sent as om_list
        ctx.store.remember_copy("om_list", reply.view, ctx.clock())
        release.set()
        deadline = time.monotonic() + 5
        while not gateway.patched and time.monotonic() < deadline:
            time.sleep(0.02)
    message_id, card = gateway.patched[-1]
    assert message_id == "om_list"
    approvable = [v["approval_id"] for v in cardwalk.callback_values(card) if v.get("action") == "approve"]
    assert {"7001", "7002"} <= set(approvable) and "Still looking" not in str(card)
    assert "om_list" in ctx.store.cards_for("7001")  # the late items follow later changes too


# -- who may act -------------------------------------------------------------------------------------------------


def test_the_requesters_leader_approves_and_the_record_is_queried_again_first():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    gateway.queried.clear()
    outcome = perform(ctx, ActionRequest(Action.APPROVE, "7001", BOSS))
    assert outcome.status.value == "done"
    assert gateway.queried[0][1] == ("u_ann",)  # that requester alone, no team-wide search
    assert ("process", ("7001", "remedy", 2)) in gateway.calls
    intent = next(iter(ctx.store.intents.values()))
    assert intent["detail"]["kind"] == "attendance" and intent["state"] == "done"


def test_another_teams_leader_is_told_not_found_and_nothing_is_sent():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, Actor("ou_rival", "u_rival"))  # 7009 is remembered: it is zed's, rival's team
    outcome = perform(ctx, ActionRequest(Action.APPROVE, "7009", BOSS))
    assert outcome.refused is not None and outcome.refused.key == "not_found"
    assert gateway.count("process") == 0


def test_the_requester_may_not_decide_their_own_record():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    outcome = perform(ctx, ActionRequest(Action.APPROVE, "7001", Actor("ou_ann", "u_ann")))
    assert outcome.refused is not None and outcome.refused.key == "own_request"
    assert gateway.count("process") == 0


def test_an_admin_may_act_on_a_found_record():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    outcome = perform(ctx, ActionRequest(Action.REJECT, "7002", Actor("ou_admin", "u_admin"), reason="no"))
    assert outcome.status.value == "done" and ("process", ("7002", "remedy", 1)) in gateway.calls


def test_whoever_approved_it_through_the_bot_may_revoke_it():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    perform(ctx, ActionRequest(Action.APPROVE, "7001", BOSS))
    gateway.departments["od-a"]["leader_user_id"] = "u_ceo"  # boss no longer leads ann …
    gateway.users["u_ann"]["leader_user_id"] = "u_ceo"
    ctx.memo.clear()
    outcome = perform(ctx, ActionRequest(Action.REVOKE, "7001", BOSS))
    assert outcome.status.value == "done", outcome  # … but approved it through the bot (the audit log says)


def test_the_user_id_of_an_actor_known_by_open_id_alone_is_asked_for():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    outcome = perform(ctx, ActionRequest(Action.APPROVE, "7001", Actor("ou_boss")))
    assert outcome.status.value == "done"


# -- /revoke and /pending ------------------------------------------------------------------------------------------


def call(ctx, user: str, text: str) -> object:
    inbound = message(user, text)
    words = text.split()
    name = ctx.registry.command_for(words[0].lstrip("/")).name
    return commands_for(ctx, name)(ctx, CommandCall(name, tuple(words[1:]), Actor(f"ou_{user}", f"u_{user}"),
                                                    inbound))


def commands_for(ctx, name: str):
    return ctx.registry.commands[name].handler


def test_revoke_finds_the_type_itself_and_refuses_a_wrong_one_naming_the_right_one():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    wrong = call(ctx, "boss", "/revoke 7101 trip")
    assert "Leave" in str(wrong.card) and gateway.count("process") == 0
    done = call(ctx, "boss", "/revoke 7101")
    assert ("process", ("7101", "leave", 4)) in gateway.calls, done.card


def test_pending_shows_native_tasks_and_team_remedies_with_approve_all_covering_both():
    gateway = world()
    native = "81D31358-93AF-92D6-7425-01A5D67C4E71"
    gateway.instances[native] = {"instance_code": native, "approval_name": "Purchase", "status": "PENDING",
                                 "user_id": "u_ann", "open_id": "ou_ann", "form": "[]", "timeline": [],
                                 "task_list": [{"id": "t1", "user_id": "u_boss", "open_id": "ou_boss",
                                                "status": "PENDING"}]}
    gateway.tasks["ou_boss"] = [{"process_code": native, "title": "Purchase"}]
    ctx = make_context(gateway)
    reply = call(ctx, "boss", "/pending")
    values = cardwalk.callback_values(reply.card)
    approvable = [v["approval_id"] for v in values if v.get("action") == "approve"]
    assert native in approvable and {"7001", "7002"} <= set(approvable)
    assert "7009" not in str(reply.card) and "7003" not in approvable  # another team's; an approved one
    every = next(v for v in values if v.get("action") == "approve_all")
    assert {native, "7001", "7002"} <= set(every["approval_ids"])
    assert {"7001", "7002", native} <= set(reply.shows)


def test_pending_says_what_contact_lacks_instead_of_an_empty_team():
    from core.errors import FeishuError

    gateway = world(contact_error=FeishuError(41050, "no user authority error", log_id="log-x"))
    reply = call(make_context(gateway), "boss", "/pending")
    assert "contact data range" in str(reply.card) and "Nothing is waiting" not in str(reply.card)


def test_team_refresh_reads_contact_again():
    gateway = world()
    ctx = make_context(gateway)
    call(ctx, "boss", "/team")
    gateway.users["u_new"] = person("new", ["od-a"])
    gateway.records.append(remedy("7004", "new"))
    assert "7004" not in str(call(ctx, "boss", "/team").card)
    assert "7004" in str(call(ctx, "boss", "/team refresh").card)
    assert team.TTL_S > 0


def test_an_admins_action_on_an_unknown_attendance_id_writes_its_intent_first():
    gateway = world()
    ctx = make_context(gateway)
    seen = []
    gateway.on_process = lambda: seen.append([dict(i) for i in ctx.store.intents.values()])
    outcome = perform(ctx, ActionRequest(Action.REVOKE, "7555", Actor("ou_admin", "u_admin"), given_type="leave"))
    assert outcome.status.value == "done"
    assert seen and seen[0][0]["state"] == "sending" and seen[0][0]["detail"]["kind"] == "attendance"
    assert next(iter(ctx.store.intents.values()))["state"] == "done"


def test_a_lost_answer_on_a_record_is_settled_by_the_reconciler_from_the_record():
    from core.errors import FeishuError
    from handlers import maintenance

    now = [float(1_795_136_580)]
    gateway = world(process_error=FeishuError(-1, "timeout", kind="timeout"))
    ctx = make_context(gateway, clock=lambda: now[0])
    found_by(ctx, BOSS)
    outcome = perform(ctx, ActionRequest(Action.APPROVE, "7001", BOSS))
    assert outcome.status.value == "unknown" and gateway.count("process") == 1
    intent = next(iter(ctx.store.intents.values()))
    assert intent["state"] == "sending" and intent["detail"]["kind"] == "attendance"
    next(r for r in gateway.records if r["approval_id"] == "7001")["status"] = 2  # Feishu applied it after all
    now[0] += 120
    assert maintenance.reconcile(ctx) == 1
    assert intent["state"] == "done" and gateway.count("process") == 1  # looked up, never sent again
    assert ctx.store.last_success("7001").operator == "ou_boss"


def test_a_leader_reads_the_history_of_a_team_record_and_a_stranger_does_not():
    gateway = world()
    ctx = make_context(gateway)
    found_by(ctx, BOSS)
    perform(ctx, ActionRequest(Action.APPROVE, "7001", BOSS))
    shown = call(ctx, "boss", "/history 7001")
    assert "No approval" not in str(shown.card) and "approve" in str(shown.card).lower()
    assert "No approval 7001" in str(call(ctx, "zed", "/history 7001").card)
    details = call(ctx, "boss", "/approval 7001")
    assert "Approved" in str(details.card) and "7001" in str(details.card)


def test_an_id_never_listed_is_looked_for_in_the_actors_team_once():
    gateway = world()
    ctx = make_context(gateway)
    outcome = perform(ctx, ActionRequest(Action.REVOKE, "7101", BOSS))  # no /team before
    assert outcome.status.value == "done" and ("process", ("7101", "leave", 4)) in gateway.calls
    stranger = perform(ctx, ActionRequest(Action.APPROVE, "7009", BOSS))  # zed's: not in boss's team
    assert stranger.refused is not None and stranger.refused.key == "not_found"
    assert gateway.count("process") == 1


def test_approval_of_an_id_never_listed_shows_the_team_members_record():
    gateway = world()
    gateway.names["ou_bob"] = "Bob"  # names on a record's card come through the contact name lookup
    ctx = make_context(gateway)
    shown = call(ctx, "boss", "/approval 7002")
    values = [v["action"] for v in cardwalk.callback_values(shown.card)]
    assert values == ["approve", "reject"] and "Bob" in str(shown.card)
    assert "No approval 7009" in str(call(ctx, "boss", "/approval 7009").card)


def test_a_large_team_card_fits_and_says_how_many_more():
    import cards

    gateway = world()
    for i in range(30):
        gateway.users[f"u_m{i}"] = person(f"m{i}", ["od-a"], "boss")
        gateway.records.append(remedy(f"80{i:02d}", f"m{i}"))
    ctx = make_context(gateway)
    reply = call(ctx, "boss", "/team")
    assert cards.card_size(reply.card) <= cards.MAX_BYTES and cards.count_elements(reply.card) <= cards.MAX_ELEMENTS
    shown = [v["approval_id"] for v in cardwalk.callback_values(reply.card) if v.get("action") == "show"]
    assert 10 <= len(shown) <= 20 and f"{34 - len(shown)} more" in cardwalk.markdown(reply.card)
    assert "34 records" in str(reply.card)  # all the team's records of the window, shown or not
    assert ctx.store.record_ref("8029") is not None  # not shown, still remembered: /approve 8029 works
