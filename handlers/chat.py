"""A message to the bot: find its command in the registry, check the argument count, run it.

Unknown commands and plain text get the help card; a wrong argument count gets the command's usage.
"""

from __future__ import annotations

from dataclasses import dataclass

import cards
from core.inbound import MessageIn, command_text, split_command
from core.outcome import Reply
from core.rules import Actor
from handlers import card_context
from handlers.context import Context


@dataclass(frozen=True)
class CommandCall:
    name: str
    args: tuple[str, ...]
    actor: Actor
    message: MessageIn

    @property
    def in_private(self) -> bool:
        """A one-to-one chat: the card is seen by the caller alone."""
        return self.message.chat_type == "p2p"


def on_message(ctx: Context, message: MessageIn) -> Reply:
    text = command_text(message, ctx.feishu.bot_open_id) or ""
    line = split_command(text)
    if line is None:
        return Reply(card=card_context.help_card(ctx))
    command = ctx.registry.command_for(line.word)
    if command is None:
        notice = cards.msg("reply.unknown_command", command=line.word) if line.word else None
        return Reply(card=card_context.help_card(ctx, notice=notice))
    if not command.accepts(len(line.args)):
        return Reply(card=card_context.help_card(ctx, notice=cards.msg(command.usage_key)))
    return command.handler(ctx, CommandCall(command.name, line.args, message.sender, message))
