"""The one table: every event type, command and card button the bot handles, one line each."""

from __future__ import annotations

from bot.dispatch import Registry, action, build_registry, command, event
from handlers import actions, commands, events


def registry() -> Registry:
    return build_registry(
        events=[
            event("im.message.receive_v1", events.on_message, dedup=False),  # by message id, when it acts
            event("card.action.trigger", events.on_card_action),
            event("approval_instance", events.on_approval_changed),
            event("approval.instance.status_changed_v4", events.on_approval_changed),
        ],
        commands=[
            command("help", commands.show_help),
            command("approval", commands.show_approval),
            command("approve", commands.approve),
            command("reject", commands.reject),
            command("revoke", commands.revoke),
            command("pending", commands.list_pending),
            command("history", commands.show_history),
        ],
        actions=[
            action("approve", actions.approve),
            action("reject", actions.reject),
            action("revoke", actions.revoke),
            action("approve_all", actions.approve_all),
            action("pending_page", actions.pending_page),
            action("show", actions.show),
        ],
    )
