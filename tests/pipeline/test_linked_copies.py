"""Every copy of a linked approval's card follows its attendance record, not its instance (DESIGN.md: the record
is the truth for its status), and the record is read once per change, not once per copy."""

from __future__ import annotations

import time

from core.inbound import ApprovalEvent
from core.rules import Actor
from handlers import copies
from handlers.pipeline import dispatch
from tests import cardwalk, samples
from tests.fakes import FakeGateway, FakeStore, make_context

DATA = samples.attendance_field()  # a pending instance whose form names attendance record 6737202939523236113
CODE, RECORD = DATA["instance_code"], "6737202939523236113"


def test_copies_show_the_record_rejected_elsewhere_though_the_instance_is_pending():
    record = {"approval_id": RECORD, "status": 0, "user_id": "u_employee", "kind": "remedy"}
    gateway = FakeGateway(instances={CODE: DATA}, records=[record], names={"ou_manager": "Manager Wang"})
    store = FakeStore()
    ctx = make_context(gateway, store)
    readers = {"om_manager": Actor("ou_manager"), "om_admin": Actor("ou_admin"), "om_group": None}
    for message_id, reader in readers.items():
        store.remember_card(CODE, message_id, 1.0)
        store.remember_copy(message_id, copies.approval_view(reader), 1.0)
    record["status"] = 1  # rejected in attendance; the instance says PENDING still
    dispatch(ctx, ApprovalEvent("ev_rejected", "approval_instance", CODE, "PENDING"), time.monotonic() + 2.5)
    patched = dict(gateway.patched)
    assert set(patched) == set(readers)
    for card in patched.values():
        assert cardwalk.callback_values(card) == []  # nothing to approve or reject any more
        assert "Rejected" in cardwalk.markdown(card)
    assert gateway.count("remedy_query") == 3  # one lookup (pending, approved, then rejected), for all copies
