"""Two independent readings of seed 000 must agree: bot/rules.py (what the bot offers) and sandbox/rules.py
(what the emulated Feishu accepts). A disagreement means one of them misread the page."""

import itertools

import pytest

from core.rules import RULES, Action, ApprovalType, InstanceStatus, check_state
from sandbox import rules as feishu

RECORD_OF = {
    InstanceStatus.PENDING: feishu.PENDING,
    InstanceStatus.APPROVED: feishu.APPROVED,
    InstanceStatus.REJECTED: feishu.REJECTED,
    InstanceStatus.CANCELED: feishu.CANCELED,
    InstanceStatus.REVERTED: feishu.REVERTED,
}


@pytest.mark.parametrize("action,approval_type,status", list(itertools.product(Action, ApprovalType, RECORD_OF)))
def test_bot_offers_exactly_what_feishu_accepts(action, approval_type, status):
    offered = bool(check_state(action, approval_type, status))
    accepted = feishu.accepts(approval_type.value, RULES[action].process_status, RECORD_OF[status])
    assert offered == accepted


def test_status_codes_and_results_agree():
    for action, rule in RULES.items():
        assert feishu.PROCESS_STATUSES[rule.process_status] == action.value
        assert feishu.INSTANCE_STATUS[feishu.RESULT[rule.process_status]] == rule.results_in.value
