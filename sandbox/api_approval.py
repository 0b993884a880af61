"""Approval v4 actions: `tasks/approve`, `tasks/reject`, `tasks/transfer`, `instances/cancel` and
`approvals/{approval_code}/subscribe`, with the bodies, `user_id_type` and error codes of their pages
(Feishu's pages: 同意/拒绝/转交审批任务, 撤回审批实例, 订阅审批事件).

Checks, in order: the body's fields (1390001), the definition (1390002), the instance (1390003) and that it
belongs to that definition (1390001), the task (1390010), then that the task belongs to `user_id` and is PENDING.
The pages document no code for the last two; Feishu answers 1390001, so the sandbox does, saying which.
Handlers return the events the change causes in `Reply.after` (pushed once the lock is released).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sandbox import flow
from sandbox.api import ID_TYPES, ApiError, Reply, Request, _body, _enum_query, _field, _user_by, ok
from sandbox.state import SandboxState

REVERT_WINDOW_MS_PER_DAY = 86_400_000


def _strings(req: Request, endpoint: str, names: tuple[str, ...], optional: tuple[str, ...] = ()) -> dict[str, str]:
    """The body's string fields: `names` required and not blank, `optional` ones "" when absent."""
    body = _body(req, endpoint)
    out = {name: _field(body, name, str, endpoint) for name in names}
    empty = [name for name, value in out.items() if not value.strip()]
    if empty:
        raise ApiError(1390001, f"param is invalid: {', '.join(empty)} must not be empty")
    out.update({name: _field(body, name, str, endpoint, required=False) or "" for name in optional})
    return out


def _person(state: SandboxState, req: Request, value: str, role: str) -> dict[str, Any]:
    id_type = _enum_query(req, "user_id_type", ID_TYPES, "open_id", 1390001)
    found = _user_by(state, value, id_type)
    if found is None:
        raise ApiError(1390001, f"param is invalid: {role} {value!r} is not a user ({id_type})")
    return found


def _instance(state: SandboxState, approval_code: str, instance_code: str) -> dict[str, Any]:
    definition = state.definition(approval_code)
    if definition is None:
        raise ApiError(1390002)
    instance = state.instances.get(instance_code)
    if instance is None:
        raise ApiError(1390003)
    if instance["approval_code"] != approval_code:
        raise ApiError(1390001, f"param is invalid: instance {instance_code} belongs to another approval "
                                f"definition, not {approval_code}")
    return instance


def _check_form(form: str) -> None:
    if not form:
        return
    try:
        widgets = json.loads(form)
    except ValueError:
        raise ApiError(1390001, "param is invalid: form is not a JSON string") from None
    if not isinstance(widgets, list) or not all(isinstance(w, dict) and "id" in w for w in widgets):
        raise ApiError(1390001, "param is invalid: form must be a JSON array of widgets with an id")


def _users_task(instance: Mapping[str, Any], task_id: str, actor: Mapping[str, Any], given: str) -> dict[str, Any]:
    task = flow.find_task(instance, task_id)
    if task is None:
        raise ApiError(1390010)
    if not flow.holds(task, actor):
        raise ApiError(1390001, f"param is invalid: task {task_id} is not assigned to user {given}")
    if task["status"] != "PENDING" or instance["status"] != "PENDING":
        raise ApiError(1390001, f"param is invalid: task {task_id} is {task['status']}, not PENDING "
                                f"(instance {instance['status']})")
    return task


def _task_call(state: SandboxState, req: Request, endpoint: str, extra: tuple[str, ...] = ()) -> tuple[
        dict[str, str], dict[str, Any], dict[str, Any], dict[str, Any]]:
    fields = _strings(req, endpoint, ("approval_code", "instance_code", "user_id", "task_id", *extra),
                      optional=("comment", "form"))
    actor = _person(state, req, fields["user_id"], "user_id")
    _check_form(fields["form"])
    instance = _instance(state, fields["approval_code"], fields["instance_code"])
    task = _users_task(instance, fields["task_id"], actor, fields["user_id"])
    return fields, actor, instance, task


def _done(state: SandboxState, events: list[flow.FlowEvent]) -> Reply:
    reply = ok({})

    def push() -> None:
        state.emit(events)

    reply.after = push
    return reply


def _refuse_signature(state: SandboxState, instance: Mapping[str, Any]) -> None:
    if state.definitions[instance["approval_code"]].get("signature"):
        raise ApiError(1390018)


def task_approve(state: SandboxState, req: Request) -> Reply:
    fields, _, instance, task = _task_call(state, req, "task_approve")
    _refuse_signature(state, instance)
    return _done(state, flow.approve(instance, task, fields["comment"], state.now_ms(), state.new_task_id))


def task_reject(state: SandboxState, req: Request) -> Reply:
    fields, _, instance, task = _task_call(state, req, "task_reject")
    _refuse_signature(state, instance)
    return _done(state, flow.reject(instance, task, fields["comment"], state.now_ms()))


def task_transfer(state: SandboxState, req: Request) -> Reply:
    fields, actor, instance, task = _task_call(state, req, "task_transfer", ("transfer_user_id",))
    target = _person(state, req, fields["transfer_user_id"], "transfer_user_id")
    if target["user_id"] == actor["user_id"]:
        raise ApiError(1390001, "param is invalid: transfer_user_id is the task's own approver")
    if any(flow.holds(t, target) and t.get("node_id") == task.get("node_id") for t in flow.open_tasks(instance)):
        raise ApiError(1390001, f"param is invalid: {target['user_id']} already holds a task on this node")
    return _done(state, flow.transfer(instance, task, target, fields["comment"], state.now_ms(), state.new_task_id))


def instance_cancel(state: SandboxState, req: Request) -> Reply:
    fields = _strings(req, "instance_cancel", ("approval_code", "instance_code", "user_id"))
    submitter = _person(state, req, fields["user_id"], "user_id")
    instance = _instance(state, fields["approval_code"], fields["instance_code"])
    if instance["user_id"] != submitter["user_id"]:
        raise ApiError(1390001, f"param is invalid: user {submitter['user_id']} is not the submitter of "
                                f"{fields['instance_code']}")
    definition = state.definitions[instance["approval_code"]]
    now = state.now_ms()
    if instance["status"] == "PENDING":
        if not definition.get("cancel_pending"):
            raise ApiError(1390001, "param is invalid: this approval definition does not allow withdrawing a "
                                    "pending request")
        return _done(state, flow.cancel(instance, submitter, now))
    if instance["status"] == "APPROVED" and not instance.get("reverted"):
        days = int(definition.get("revert_days") or 0)
        if days and int(now) - int(instance["end_time"]) <= days * REVERT_WINDOW_MS_PER_DAY:
            return _done(state, flow.revert(instance, submitter, now))
        raise ApiError(1390001, f"param is invalid: this approval definition does not allow revoking it "
                                f"({days} days after approval)" if days else
                                "param is invalid: this approval definition does not allow revoking an approved "
                                "request")
    raise ApiError(1390001, f"param is invalid: instance {fields['instance_code']} is {instance['status']}"
                            f"{' (reverted)' if instance.get('reverted') else ''}; it cannot be withdrawn")


def approval_subscribe(state: SandboxState, req: Request) -> Reply:
    code = req.params["approval_code"]
    if state.definition(code) is None:
        raise ApiError(1390002)
    if not state.subscribe(code):
        raise ApiError(1390007)
    return ok({})
