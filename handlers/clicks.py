"""A card click: find its button in the registry and run it; a card from an older bot version is shown anew
instead of acted on (its buttons may no longer mean what they say)."""

from __future__ import annotations

import cards
from core.errors import FeishuError
from core.inbound import CardClick
from core.outcome import Reply
from handlers import card_context, copies
from handlers.context import Context
from handlers.lookup import load_approval


def on_click(ctx: Context, click: CardClick) -> Reply:
    name = click.value.get("action") if isinstance(click.value, dict) else None
    button = ctx.registry.buttons.get(name) if isinstance(name, str) else None
    if button is None:
        return Reply(toast=card_context.toast(ctx, "error", "toast.unknown_action"))
    if click.value.get("v") != cards.CARD_VERSION:
        return _stale(ctx, click)
    return button.handler(ctx, click)


def _stale(ctx: Context, click: CardClick) -> Reply:
    approval_id = str(click.value.get("approval_id") or "")
    toast = card_context.toast(ctx, "warning", "toast.stale_card")
    try:
        approval = load_approval(ctx, approval_id)
    except FeishuError:
        return Reply(toast=toast)
    viewer = copies.viewer_of(copies.clicked_view(ctx, click.message_id))
    return Reply(card=card_context.current_card(ctx, approval, viewer), toast=toast)
