"""The one place an approval is loaded: the instance lookup, read into `core.approval.Approval`.

Every failure is a `FeishuError` (an instance the bot cannot read counts as a server error), so callers have
one exception to map (cards/messages.py); `NOT_FOUND` is the lookup's code for an id it does not know.
"""

from __future__ import annotations

from core.approval import Approval, InstanceFormatError, from_instance
from core.errors import FeishuError
from handlers.context import Context

NOT_FOUND = 1390003


class UnreadableApproval(FeishuError):
    """The lookup answered, but with an instance the bot cannot read (retrying will not help)."""


def load_approval(ctx: Context, approval_id: str) -> Approval:
    data = ctx.feishu.get_instance(approval_id)
    try:
        return from_instance(data, approval_id, ctx.config.attendance_id_field)
    except InstanceFormatError:
        raise UnreadableApproval(-1, "unreadable instance", kind="server") from None


def is_not_found(err: FeishuError) -> bool:
    return err.code == NOT_FOUND
