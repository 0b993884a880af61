"""The one table: every event type, command and card button the bot handles, one line each.

A new command is a function in `handlers/commands.py`, one line here and its texts in `cards/locales/`;
`build_registry` refuses at start-up a registration whose texts are missing.
"""

from __future__ import annotations

from handlers import buttons, chat, clicks, commands, notifications
from handlers.registry import Registry, build_registry, button, command, event


def registry() -> Registry:
    return build_registry(
        events=[
            event("im.message.receive_v1", chat.on_message, kind="message"),
            event("card.action.trigger", clicks.on_click, kind="callback"),
            event("card.action.trigger_v1", clicks.on_click, kind="callback"),  # legacy /webhook/card
            event("approval_instance", notifications.on_approval_event),
            event("approval_task", notifications.on_approval_event),
            event("approval.instance.status_changed_v4", notifications.on_approval_event),
        ],
        commands=[
            command("help", commands.show_help, aliases=["帮助"], args=(0, None)),
            command("approval", commands.show_approval, aliases=["审批"], args=(1, 1)),
            command("approve", commands.approve, aliases=["通过"], args=(1, None)),
            command("reject", commands.reject, aliases=["拒绝"], args=(1, None)),
            command("revoke", commands.revoke, aliases=["撤销"], args=(1, 2)),
            command("pending", commands.list_pending, aliases=["待办"], args=(0, 0)),
            command("team", commands.show_team, aliases=["团队"], args=(0, 1)),
            command("history", commands.show_history, aliases=["历史"], args=(1, 1)),
        ],
        buttons=[
            button("approve", buttons.approve, label="button.approve"),
            button("reject", buttons.reject, label="button.reject"),
            button("revoke", buttons.revoke, label="button.revoke"),
            button("approve_all", buttons.approve_all, label="button.approve_all"),
            button("pending_page", buttons.pending_page, label="button.next_page"),
            button("show", buttons.show, label="button.details"),
        ],
    )
