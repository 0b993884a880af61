"""Text commands: one function each, registered in `handlers/__init__.py` with their aliases, argument counts
and texts (the registry checks the count before a command runs). Each returns a `Reply` with a card."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import cards
from core.approval import Approval
from core.errors import FeishuError
from core.inbound import approval_ref, split_ids, valid_approval_id
from core.outcome import Outcome, Reply, Status
from core.rules import Action, Actor, ApprovalType, Refused, may_see
from handlers import card_context, copies, pending
from handlers.chat import CommandCall
from handlers.context import Context
from handlers.lookup import is_not_found, load_approval
from handlers.replies import outcome_words, tell_requester
from handlers.workflow import ActionRequest, act, perform

MAX_BATCH = 20
# Type names in either language (`/撤销 <id> 外出`), read into the value the rules know.
TYPE_NAMES = {
    **{t.value: t.value for t in ApprovalType},
    **{cards.text(f"type.{t.value}", loc).casefold(): t.value for t in ApprovalType for loc in cards.LOCALES},
    "请假": "leave", "外出": "out", "加班": "overtime", "出差": "trip", "补卡": "remedy",
}


def show_help(ctx: Context, call: CommandCall) -> Reply:
    return Reply(card=card_context.help_card(ctx))


def _refusal(ctx: Context, refused: Refused) -> Reply:
    return Reply(card=card_context.notice_card(ctx, card_context.refusal_words(refused), tone="warning"))


def _error(ctx: Context, err: FeishuError) -> Reply:
    return Reply(card=card_context.notice_card(ctx, card_context.error_words(err), tone="error",
                                               log_id=err.log_id or None))


def can_view(ctx: Context, approval: Approval, actor: Actor) -> bool:
    return may_see(actor, approval.participants(), ctx.admins)


def _not_found(ctx: Context, approval_id: str) -> Reply:
    """The one answer for an id that does not exist and for an approval the caller takes no part in."""
    return _refusal(ctx, Refused("not_found", {"id": approval_id[:64]}))


def resolve_id(ctx: Context, word: str, actor: Actor) -> str:
    """The approval a typed id names: the code in a pasted link, the instance of a serial number the bot has
    shown (remembered when it rendered the card), or the id as typed.

    A serial names its instance only for someone who may see it: anyone else goes on with the serial as typed
    and gets what an unknown id gets (the instance code is not theirs to learn)."""
    ref = approval_ref(word)
    code = ctx.store.instance_for_serial(ref)
    if not code or code == ref:
        return ref
    try:
        approval = load_approval(ctx, code)
    except FeishuError as err:
        return ref if is_not_found(err) else code  # a failed lookup is said as such, never as another id
    return code if can_view(ctx, approval, actor) else ref


def _viewer(call: CommandCall) -> Actor | None:
    """A one-to-one reply is seen by its reader alone: it shows what they may do. A group's is shared."""
    return call.actor if call.in_private else None


def _with_view(reply: Reply, call: CommandCall) -> Reply:
    """A reply that shows an approval is kept up to date for whoever reads it."""
    if not reply.approval_id:
        return reply
    return dataclasses.replace(reply, view=copies.approval_view(_viewer(call)))


def show_approval(ctx: Context, call: CommandCall) -> Reply:
    approval_id = resolve_id(ctx, call.args[0], call.actor)
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    try:
        approval = load_approval(ctx, approval_id)
    except FeishuError as err:
        return _attendance_only_view(ctx, call, approval_id) if is_not_found(err) else _error(ctx, err)
    if not can_view(ctx, approval, call.actor):
        return _not_found(ctx, approval_id)
    card_context.remember_approvers(ctx, approval)
    notice = card_context.not_replayable_notice(ctx, approval.instance_code)
    card = card_context.current_card(ctx, approval, _viewer(call), notice=notice)
    return Reply(card=card, approval_id=approval.instance_code, view=copies.approval_view(_viewer(call)))


def _attendance_only_view(ctx: Context, call: CommandCall, approval_id: str) -> Reply:
    if not (call.actor.ids() & ctx.admins):
        return _not_found(ctx, approval_id)
    notice = card_context.refusal_words(Refused("not_found", {"id": approval_id}))
    card = cards.render("attendance_only", ctx.locale, approval_id=approval_id, approval_type=None, actions=(),
                        outcome=None, notice=notice)
    return Reply(card=card)


def batch_outcomes(ctx: Context, action: Action, ids: Sequence[str], actor: Actor, reason: str = "",
                   *, exclude: str = "") -> list[Outcome]:
    """Each approval on its own; then every other card showing those done is updated once, and each requester
    is told."""
    outcomes = [perform(ctx, ActionRequest(action, approval_id, actor, reason=reason))
                for approval_id in ids[:MAX_BATCH]]
    done = [o.approval for o in outcomes if o.status is Status.DONE and o.approval is not None]
    copies.update_all(ctx, done, exclude=exclude)
    for outcome in outcomes:
        tell_requester(ctx, outcome)
    return outcomes


def batch(ctx: Context, action: Action, ids: Sequence[str], actor: Actor, reason: str = "") -> Reply:
    """Each approval on its own, one summary card."""
    results = []
    for outcome in batch_outcomes(ctx, action, ids, actor, reason):
        status = {Status.DONE: "done", Status.FAILED: "failed"}.get(outcome.status, "refused")
        results.append({"approval_id": outcome.approval_id, "outcome": status, "text": outcome_words(ctx, outcome)})
    return Reply(card=cards.render("summary", ctx.locale, results=results))


def approve(ctx: Context, call: CommandCall) -> Reply:
    """`/approve <id>… [comment…]`: the leading words that look like ids, then an optional comment."""
    words, comment = split_ids(call.args)
    ids = list(dict.fromkeys(resolve_id(ctx, w, call.actor) for w in words))
    if len(ids) > 1:
        return batch(ctx, Action.APPROVE, ids, call.actor, comment)
    request = ActionRequest(Action.APPROVE, ids[0], call.actor, reason=comment)
    return _with_view(act(ctx, request, as_message=True, private=call.in_private), call)


def reject(ctx: Context, call: CommandCall) -> Reply:
    """`/reject <id> <reason…>`: without a reason, a prompt, and nothing is sent or locked."""
    reason = " ".join(call.args[1:]).strip()
    if not reason:
        return _refusal(ctx, Refused("reason_required_command"))
    request = ActionRequest(Action.REJECT, resolve_id(ctx, call.args[0], call.actor), call.actor, reason=reason)
    return _with_view(act(ctx, request, as_message=True, private=call.in_private), call)


def revoke(ctx: Context, call: CommandCall) -> Reply:
    named = call.args[1].casefold() if len(call.args) == 2 else ""
    given = TYPE_NAMES.get(named, named)
    if given and given not in ApprovalType.__members__.values():
        return _refusal(ctx, Refused("bad_type", {"type": named[:32]}))
    request = ActionRequest(Action.REVOKE, resolve_id(ctx, call.args[0], call.actor), call.actor, given_type=given)
    return _with_view(act(ctx, request, as_message=True, private=call.in_private), call)


def list_pending(ctx: Context, call: CommandCall) -> Reply:
    return pending.list_reply(ctx, call.actor, shared=not call.in_private) or Reply()


def show_history(ctx: Context, call: CommandCall) -> Reply:
    approval_id = resolve_id(ctx, call.args[0], call.actor)
    if not valid_approval_id(approval_id):
        return _refusal(ctx, Refused("bad_id", {"id": approval_id[:64]}))
    if not (call.actor.ids() & ctx.admins):
        try:
            approval = load_approval(ctx, approval_id)
        except FeishuError as err:
            if is_not_found(err):
                return _not_found(ctx, approval_id)
            return _error(ctx, err)
        if not can_view(ctx, approval, call.actor):
            return _not_found(ctx, approval_id)
    records = ctx.store.history(approval_id)
    names = card_context.resolve_names(ctx, dict.fromkeys((r.operator, "open_id") for r in records if r.operator))
    rows = [
        {"at_ms": int(r.at * 1000), "operator": names.get(r.operator, r.operator), "action": r.action,
         "outcome": r.outcome, "reason": r.reason, "code": r.code, "log_id": r.log_id}
        for r in records
    ]
    return Reply(card=cards.render("history", ctx.locale, approval_id=approval_id, records=rows,
                                   tz=ctx.config.timezone))
