"""Names through contact users/batch and department GET behind one cache (handlers/names.py): 50 ids a call,
aliases, the second card costs no contact call, unknown ids remembered for a while, a failing contact API
costs one card its timeout and leaves it readable, the cache bounded and thread-safe."""

from __future__ import annotations

import threading
import time

import cards
from core.errors import FeishuError
from handlers import card_context, names
from handlers.names import NameCache
from tests.cardwalk import read
from tests.fakes import FakeGateway, make_context
from tests.samples import approval as sample_approval

PEOPLE = [
    {"open_id": "ou_manager", "user_id": "u_manager", "name": "王经理", "en_name": "Manager Wang"},
    {"open_id": "ou_manager2", "user_id": "u_manager2", "name": "李经理", "en_name": "Manager Li"},
    {"open_id": "ou_admin", "user_id": "u_admin", "name": "赵管理员", "en_name": "Admin Zhao"},
    {"open_id": "ou_employee", "user_id": "u_employee", "name": "张三", "en_name": "Employee Zhang"},
]
DEPARTMENTS = {"od-sales": {"name": "销售部", "i18n_name": {"zh_cn": "销售部", "en_us": "Sales"}},
               "od-rd": {"name": "研发部", "i18n_name": {"zh_cn": "研发部", "en_us": "Research"}}}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gateway(**extra) -> FakeGateway:
    return FakeGateway(users={p["user_id"]: dict(p) for p in PEOPLE}, departments=dict(DEPARTMENTS), **extra)


def contact_calls(gw: FakeGateway) -> list:
    return [c for c in gw.calls if c[0] in ("user_batch", "department_get")]


def test_every_place_a_card_names_someone_shows_their_name_in_each_readers_language() -> None:
    """Requester and their department, approvers, cc and transfer targets in the timeline, commenters, the
    contact widget, the department widget, trip companions: names, in zh_cn and en_us, never ids."""
    gw = gateway()
    ctx = make_context(gw, locale="zh_cn")
    card = card_context.approval_card(ctx, sample_approval("every_widget"))
    zh, en = read(card, "zh_cn"), read(card, "en_us")
    for name in ("张三", "销售部", "研发部", "王经理", "李经理", "赵管理员"):
        assert name in zh
    for name in ("Employee Zhang", "Sales, Research", "Manager Wang", "Manager Li", "Admin Zhao"):
        assert name in en
    assert "→ Admin Zhao" in en and "→ 赵管理员" in zh  # the cc line names whom it copied
    assert "Travelling with: Manager Wang" in en or "Manager Wang" in en.split("Quarterly review")[1]
    for text in (zh, en):
        for ident in ("ou_", "u_manager", "u_admin", "od-sales", "od-rd"):
            assert ident not in text
        assert "cannot see" not in text and "无法查看" not in text
    # one users/batch call for the open_ids names their user_ids too; one GET per department
    assert [c[0] for c in contact_calls(gw)] == ["user_batch", "department_get", "department_get"]


def test_the_second_card_makes_no_contact_call() -> None:
    gw = gateway()
    ctx = make_context(gw)
    card_context.approval_card(ctx, sample_approval("every_widget"))
    before = len(contact_calls(gw))
    again = card_context.approval_card(ctx, sample_approval("every_widget"))
    assert len(contact_calls(gw)) == before and "Manager Li" in read(again, "en_us")


def test_fifty_ids_a_call() -> None:
    people = [{"open_id": f"ou_{i:04x}", "user_id": f"u_{i}", "name": f"员工{i}", "en_name": f"Staff {i}"}
              for i in range(120)]
    gw = FakeGateway(users={p["user_id"]: p for p in people})
    ctx = make_context(gw)
    found = card_context.resolve_names(ctx, [(p["open_id"], "open_id") for p in people])
    assert len(found) == 120 and found["ou_0077"] == "Staff 119"
    sizes = [len(ids) for name, (_type, ids) in gw.calls if name == "user_batch"]
    assert sizes == [50, 50, 20]
    assert card_context.resolve_names(ctx, [(f"u_{i}", "user_id") for i in range(120)])["u_5"] == "Staff 5"
    assert len([c for c in gw.calls if c[0] == "user_batch"]) == 3  # the user_ids came with the open_ids


def test_a_name_is_worded_for_each_reader() -> None:
    ctx = make_context(gateway(), locale="en_us")
    name = card_context.resolve_names(ctx, [("ou_employee", "open_id")])["ou_employee"]
    assert name == "Employee Zhang" and cards.localize(name, "zh_cn") == "张三"
    assert cards.text("names.unknown_person", "zh_cn", n=name).startswith("张三")


def test_unknown_ids_are_remembered_for_a_while_then_asked_again() -> None:
    clock = Clock()
    gw = gateway()
    ctx = make_context(gw)
    ctx = type(ctx)(**{**ctx.__dict__, "names": NameCache(clock=clock)})
    assert card_context.resolve_names(ctx, [("ou_gone", "open_id")], [("od-gone", "open_department_id")]) == {}
    assert card_context.resolve_names(ctx, [("ou_gone", "open_id")], [("od-gone", "open_department_id")]) == {}
    assert len(contact_calls(gw)) == 2
    clock.now += names.MISSING_TTL_S + 1
    gw.users["u_gone"] = {"open_id": "ou_gone", "name": "新人", "en_name": "Newcomer"}
    assert card_context.resolve_names(ctx, [("ou_gone", "open_id")]) == {"ou_gone": "Newcomer"}  # FakeSettings: en_us
    clock.now += names.TTL_S - 1
    card_context.resolve_names(ctx, [("ou_gone", "open_id")])
    assert len(contact_calls(gw)) == 3  # known names live an hour
    clock.now += 2
    card_context.resolve_names(ctx, [("ou_gone", "open_id")])
    assert len(contact_calls(gw)) == 4


def test_a_failing_contact_api_leaves_the_card_readable_and_is_not_paid_on_every_click() -> None:
    gw = gateway(contact_error=FeishuError(-1, "timeout", kind="timeout"))
    ctx = make_context(gw)
    started = time.monotonic()
    card = card_context.approval_card(ctx, sample_approval("every_widget"))
    en = read(card, "en_us")
    assert "Someone \\(name not visible to the bot\\) · User ID u\\_employee" in en  # labelled, findable
    assert "ou_employee" not in en
    assert len(contact_calls(gw)) == 1  # the contact API did not answer: nothing more is asked of it for a while
    card_context.approval_card(ctx, sample_approval("every_widget"))
    assert len(contact_calls(gw)) == 1 and time.monotonic() - started < 1.0


def test_a_refused_id_type_pauses_only_itself() -> None:
    """No scope for user_ids (an api error) still lets open_ids and departments be named."""
    gw = gateway()
    ctx = make_context(gw)
    calls = []

    def refuse_user_ids(user_ids, id_type="open_id", deadline=None):
        calls.append(id_type)
        if id_type == "user_id":
            raise FeishuError(99991672, "scope missing", kind="api")
        return FakeGateway.users_batch(gw, user_ids, id_type, deadline)

    gw.users_batch = refuse_user_ids  # type: ignore[method-assign]
    found = card_context.resolve_names(ctx, [("u_stranger", "user_id"), ("ou_admin", "open_id")],
                                       [("od-sales", "open_department_id")])
    assert found == {"ou_admin": "Admin Zhao", "od-sales": "Sales"}
    card_context.resolve_names(ctx, [("u_other", "user_id"), ("ou_manager", "open_id")])
    assert calls == ["open_id", "user_id", "open_id"]


def test_names_stay_within_their_budget_on_a_slow_contact_api() -> None:
    gw = gateway(on_contact=lambda: time.sleep(0.15))
    ctx = make_context(gw)
    departments = [(f"od-{i}", "open_department_id") for i in range(20)]
    started = time.monotonic()
    names.lookup(gw, ctx.names, "zh_cn", [("ou_manager", "open_id")], departments, budget_s=0.4)
    assert time.monotonic() - started < 0.4 + 0.2
    assert len(contact_calls(gw)) < 5


def test_the_cache_is_bounded_least_recently_used_first() -> None:
    cache = NameCache(max_entries=3, clock=Clock())
    for i in range(3):
        cache.put(("user", "open_id", f"ou_{i}"), {"zh_cn": f"n{i}"})
    assert cache.get(("user", "open_id", "ou_0")) == {"zh_cn": "n0"}  # used: kept
    cache.put(("user", "open_id", "ou_3"), {"zh_cn": "n3"})
    assert len(cache) == 3 and cache.get(("user", "open_id", "ou_1")) is None
    assert cache.get(("user", "open_id", "ou_0")) is not None


def test_the_cache_is_thread_safe() -> None:
    cache = NameCache(max_entries=100)
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(2000):
                key = ("user", "open_id", f"ou_{(n * 7 + i) % 300}")
                cache.put(key, {"zh_cn": str(i)} if i % 5 else None)
                cache.get(key)
        except BaseException as exc:  # noqa: BLE001 - the assertion below reports it
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert errors == [] and len(cache) <= 100


def test_ids_that_cannot_be_anyones_are_not_sent() -> None:
    gw = gateway()
    ctx = make_context(gw)
    assert card_context.resolve_names(ctx, [("../../x", "user_id")], [("a/b", "department_id")]) == {}
    assert contact_calls(gw) == []


def test_a_cc_entry_names_whom_it_copied_from_cc_user_list_too() -> None:
    """instance GET lists a CC's people in `cc_user_list` as well as the id lists: either is read."""
    from core.approval import from_instance
    from tests import samples

    data = samples.remedy_pending()
    data["timeline"].append({"type": "CC", "create_time": str(samples.T0 + 60_000), "user_id": "u_manager",
                             "open_id": "ou_manager",
                             "cc_user_list": [{"user_id": "u_admin", "cc_id": "c1", "open_id": "ou_admin"}]})
    approval = from_instance(data, data["instance_code"])
    card = card_context.approval_card(make_context(gateway()), approval)
    assert "→ Admin Zhao" in read(card, "en_us") and "→ 赵管理员" in read(card, "zh_cn")
