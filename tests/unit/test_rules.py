"""The rules table (seed 000 + DESIGN.md) as a manager meets it."""

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.rules import (
    RULES,
    Action,
    Actor,
    Allowed,
    ApprovalType,
    InstanceStatus,
    Refused,
    Roles,
    available_actions,
    check,
    check_role,
    check_state,
)

MANAGER = Actor(open_id="ou_manager", user_id="u_manager")
ROLES = Roles(requester=frozenset({"ou_employee"}), pending_approvers=frozenset({"ou_manager"}),
              passed_by=frozenset({"ou_manager2"}))

EXPECTED_ALLOWED = {
    (Action.APPROVE, ApprovalType.REMEDY, InstanceStatus.PENDING): 2,
    (Action.REJECT, ApprovalType.REMEDY, InstanceStatus.PENDING): 1,
    **{(Action.REVOKE, t, InstanceStatus.APPROVED): 4 for t in ApprovalType},
}


@pytest.mark.parametrize(
    "action,approval_type,status", list(itertools.product(Action, ApprovalType, InstanceStatus))
)
def test_every_cell_of_the_table(action, approval_type, status):
    verdict = check_state(action, approval_type, status)
    expected = EXPECTED_ALLOWED.get((action, approval_type, status))
    if expected is None:
        assert isinstance(verdict, Refused)
    else:
        assert verdict == Allowed(action, expected)


@pytest.mark.parametrize("approval_type", [ApprovalType.LEAVE, ApprovalType.OUT, ApprovalType.OVERTIME,
                                           ApprovalType.TRIP])
def test_non_remedy_types_say_they_can_only_be_revoked(approval_type):
    verdict = check_state(Action.APPROVE, approval_type, InstanceStatus.PENDING)
    assert verdict == Refused("only_revoke", {"type": approval_type.value})


def test_read_only_when_no_attendance_widget():
    assert check_state(Action.REVOKE, None, InstanceStatus.APPROVED) == Refused("read_only")
    assert available_actions(None, InstanceStatus.APPROVED) == ()


def test_already_approved_is_named():
    verdict = check_state(Action.APPROVE, ApprovalType.REMEDY, InstanceStatus.APPROVED)
    assert isinstance(verdict, Refused) and verdict.key == "already_approved"


def test_unknown_status_is_read_only():
    assert InstanceStatus.parse("SOMETHING_NEW") is InstanceStatus.UNKNOWN
    assert available_actions(ApprovalType.REMEDY, InstanceStatus.UNKNOWN) == ()


def test_pending_approver_may_approve_and_reject_but_not_revoke():
    assert check_role(Action.APPROVE, MANAGER, ROLES, ())
    assert check_role(Action.REJECT, MANAGER, ROLES, ())
    assert check_role(Action.REVOKE, MANAGER, ROLES, ()) == Refused("not_revoker")


def test_the_approver_who_passed_it_may_revoke():
    assert check_role(Action.REVOKE, Actor(open_id="ou_manager2"), ROLES, ())


def test_admin_may_do_everything_but_never_on_own_request():
    admin = Actor(open_id="ou_admin")
    for action in Action:
        assert check_role(action, admin, ROLES, {"ou_admin"})
    own = Roles(requester=frozenset({"ou_admin"}), pending_approvers=frozenset({"ou_admin"}))
    for action in Action:
        assert check_role(action, admin, own, {"ou_admin"}) == Refused("own_request")


def test_stranger_is_refused():
    stranger = Actor(open_id="ou_stranger")
    assert check_role(Action.APPROVE, stranger, ROLES, ()) == Refused("not_approver")
    assert check_role(Action.APPROVE, Actor(), ROLES, ()) == Refused("unknown_user")


def test_user_id_matches_too():
    roles = Roles(pending_approvers=frozenset({"u_manager"}))
    assert check_role(Action.APPROVE, Actor(user_id="u_manager"), roles, ())


def test_state_is_checked_before_role():
    verdict = check(Action.APPROVE, ApprovalType.TRIP, InstanceStatus.PENDING, Actor(open_id="ou_x"), ROLES, ())
    assert verdict.key == "only_revoke"


@given(
    action=st.sampled_from(Action),
    approval_type=st.one_of(st.none(), st.sampled_from(ApprovalType)),
    status=st.sampled_from(InstanceStatus),
    actor=st.sampled_from([MANAGER, Actor(open_id="ou_admin"), Actor(open_id="ou_employee"), Actor()]),
)
def test_available_actions_agree_with_check(action, approval_type, status, actor):
    shown = available_actions(approval_type, status, actor, ROLES, {"ou_admin"})
    allowed = bool(check(action, approval_type, status, actor, ROLES, {"ou_admin"}))
    assert (action in shown) == allowed


def test_process_status_codes_match_seed_000():
    assert {a: r.process_status for a, r in RULES.items()} == {Action.APPROVE: 2, Action.REJECT: 1,
                                                                Action.REVOKE: 4}


def test_a_reverted_approval_reads_as_reverted():
    """Instance GET keeps `status` APPROVED and says `reverted: true` (approval-v4 instance get)."""
    from core.approval import from_instance
    from tests import samples

    data = samples.remedy_approved()
    assert from_instance(data).status is InstanceStatus.APPROVED
    data["reverted"] = True
    assert from_instance(data).status is InstanceStatus.REVERTED
