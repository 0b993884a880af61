"""How a native approval instance moves (approval v4): nodes, tasks, timeline, status, and the events Feishu pushes.

Pure: no I/O, no locks, no other sandbox module. Functions mutate the instance dict they are given (the caller
holds the state lock) and return the `FlowEvent`s the change causes, in the order Feishu pushes them
(Feishu's pages on the `approval_task` and `approval_instance` events):

- AND node: a task approved -> APPROVED for it, PENDING re-pushed for the node's remaining tasks; the last one
  approved -> the next node's tasks PENDING (or the instance APPROVED).
- OR node: a task approved -> APPROVED for it, DONE for the node's other tasks, the next node's tasks PENDING.
- a task rejected -> REJECTED for it, DONE for every other open task, the instance REJECTED.
- a task transferred -> TRANSFERRED for it, PENDING for the new assignee's task.
- the submitter cancels -> DONE for every open task, the instance CANCELED; an approved instance reverted ->
  `reverted` set and REVERTED pushed (its `operate_time` an int, as the instance event page says);
- the definition deleted -> DONE for every open task, each pending instance DELETED.

An instance from the flow carries its whole route in `_nodes` (node specs) and the index of the open node in
`_node`; only nodes that were reached have tasks in `task_list`, as instance GET shows them. Keys that start with
`_` are the sandbox's own and never rendered. Instances without `_nodes` (one flat task list) work too: a node is
then the tasks that share a `node_id`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any

Instance = MutableMapping[str, Any]
NewId = Callable[[], str]

# instance GET's statuses (its page); events add REVERTED, OVERTIME_CLOSE, OVERTIME_RECOVER
INSTANCE_STATUSES = ("PENDING", "APPROVED", "REJECTED", "CANCELED", "DELETED")
TASK_STATUSES = ("PENDING", "APPROVED", "REJECTED", "TRANSFERRED", "DONE")
NODE_TYPES = ("AND", "OR")


@dataclass(frozen=True)
class FlowEvent:
    """One push Feishu makes: an `approval_task` (kind "task") or an `approval_instance` (kind "instance")."""

    kind: str
    status: str
    instance_code: str
    approval_code: str
    task_id: str = ""
    user_id: str = ""
    open_id: str = ""
    custom_key: str = ""
    def_key: str = ""
    operate_time: str = ""
    instance_uuid: str = ""  # the instance's creation uuid, which the instance event carries


def node(node_id: str, name: str, approvers: Sequence[Mapping[str, str]], *, kind: str = "OR",
         custom_node_id: str = "", node_key: str = "") -> dict[str, Any]:
    """A node spec: its approvers as {"user_id", "open_id"}; AND = every approver must pass, OR = any one."""
    if kind not in NODE_TYPES:
        raise ValueError(f"node type must be one of {NODE_TYPES}, got {kind!r}")
    if not approvers:
        raise ValueError("a node needs at least one approver")
    return {"node_id": node_id, "node_name": name, "type": kind, "custom_node_id": custom_node_id,
            "node_key": node_key or custom_node_id.upper(),
            "approvers": [{"user_id": a["user_id"], "open_id": a["open_id"]} for a in approvers]}


# -- reading an instance ------------------------------------------------------------------------------------------


def find_task(instance: Mapping[str, Any], task_id: str) -> dict[str, Any] | None:
    return next((t for t in instance.get("task_list") or () if t.get("id") == task_id), None)


def open_tasks(instance: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [t for t in instance.get("task_list") or () if t.get("status") == "PENDING"]


def holds(task: Mapping[str, Any], person: Mapping[str, str]) -> bool:
    return bool(person.get("user_id")) and task.get("user_id") == person.get("user_id")


# -- moving an instance -------------------------------------------------------------------------------------------


def start(instance: Instance, submitter: Mapping[str, str], now_ms: str, new_id: NewId) -> list[FlowEvent]:
    """A new submission: START in the timeline, the first node's tasks PENDING, the instance PENDING."""
    instance["status"], instance["start_time"], instance["end_time"] = "PENDING", now_ms, "0"
    instance["timeline"].append(_entry("START", now_ms, submitter))
    instance["_node"] = -1
    events = [_instance_event(instance, "PENDING", now_ms)]
    return events + _advance(instance, now_ms, new_id)


def approve(instance: Instance, task: dict[str, Any], comment: str, now_ms: str, new_id: NewId) -> list[FlowEvent]:
    _close(task, "APPROVED", now_ms)
    instance["timeline"].append(_entry("PASS", now_ms, task, task_id=task["id"], comment=comment,
                                       node_key=_node_key(instance, task)))
    events = [_task_event(instance, task, "APPROVED", now_ms)]
    siblings = [t for t in open_tasks(instance) if t.get("node_id") == task.get("node_id")]
    if siblings and task.get("type") == "AND":
        return events + [_task_event(instance, t, "PENDING", now_ms) for t in siblings]
    for other in siblings:
        _close(other, "DONE", now_ms)
        events.append(_task_event(instance, other, "DONE", now_ms))
    return events + _advance(instance, now_ms, new_id)


def reject(instance: Instance, task: dict[str, Any], comment: str, now_ms: str) -> list[FlowEvent]:
    _close(task, "REJECTED", now_ms)
    instance["timeline"].append(_entry("REJECT", now_ms, task, task_id=task["id"], comment=comment,
                                       node_key=_node_key(instance, task)))
    events = [_task_event(instance, task, "REJECTED", now_ms)]
    events += _close_open(instance, now_ms)
    return events + _finish(instance, "REJECTED", now_ms)


def transfer(instance: Instance, task: dict[str, Any], to: Mapping[str, str], comment: str, now_ms: str,
             new_id: NewId) -> list[FlowEvent]:
    _close(task, "TRANSFERRED", now_ms)
    handed = {**task, "id": new_id(), "user_id": to["user_id"], "open_id": to["open_id"], "status": "PENDING",
              "start_time": now_ms, "end_time": "0"}
    instance["task_list"].append(handed)
    ext = json.dumps({"user_id_list": [to["user_id"]], "open_id_list": [to["open_id"]]})
    instance["timeline"].append(_entry("TRANSFER", now_ms, task, task_id=task["id"], comment=comment, ext=ext,
                                       node_key=_node_key(instance, task),
                                       user_id_list=[to["user_id"]], open_id_list=[to["open_id"]]))
    return [_task_event(instance, task, "TRANSFERRED", now_ms), _task_event(instance, handed, "PENDING", now_ms)]


def cancel(instance: Instance, submitter: Mapping[str, str], now_ms: str) -> list[FlowEvent]:
    """The submitter withdraws a PENDING instance: open tasks DONE, CANCEL in the timeline, CANCELED."""
    events = _close_open(instance, now_ms)
    instance["timeline"].append(_entry("CANCEL", now_ms, submitter))
    return events + _finish(instance, "CANCELED", now_ms)


def revert(instance: Instance, submitter: Mapping[str, str], now_ms: str) -> list[FlowEvent]:
    """The submitter reverts an APPROVED instance: GET keeps APPROVED with `reverted: true`; REVERTED is pushed."""
    instance["reverted"] = True
    instance["timeline"].append(_entry("CANCEL", now_ms, submitter))
    return [_instance_event(instance, "REVERTED", now_ms)]


def delete(instance: Instance, now_ms: str) -> list[FlowEvent]:
    """An admin deleted the definition while the instance was pending: open tasks DONE, the instance DELETED."""
    return _close_open(instance, now_ms) + _finish(instance, "DELETED", now_ms)


# -- helpers ----------------------------------------------------------------------------------------------------


def _advance(instance: Instance, now_ms: str, new_id: NewId) -> list[FlowEvent]:
    """The open node is done: open the next one, or approve the instance when none is left."""
    nodes = instance.get("_nodes") or []
    index = int(instance.get("_node", len(nodes))) + 1
    if index < len(nodes):
        instance["_node"] = index
        return [_task_event(instance, t, "PENDING", now_ms) for t in _open_node(instance, nodes[index], now_ms,
                                                                               new_id)]
    instance["_node"] = len(nodes)
    if open_tasks(instance):  # a flat task list with another node still open
        return []
    return _finish(instance, "APPROVED", now_ms)


def _open_node(instance: Instance, spec: Mapping[str, Any], now_ms: str, new_id: NewId) -> list[dict[str, Any]]:
    tasks = [{"id": new_id(), "user_id": a["user_id"], "open_id": a["open_id"], "status": "PENDING",
              "node_id": spec["node_id"], "node_name": spec["node_name"], "custom_node_id": spec["custom_node_id"],
              "type": spec["type"], "start_time": now_ms, "end_time": "0"} for a in spec["approvers"]]
    instance["task_list"].extend(tasks)
    return tasks


def _close_open(instance: Instance, now_ms: str) -> list[FlowEvent]:
    events = []
    for task in open_tasks(instance):
        _close(task, "DONE", now_ms)
        events.append(_task_event(instance, task, "DONE", now_ms))
    return events


def _finish(instance: Instance, status: str, now_ms: str) -> list[FlowEvent]:
    instance["status"], instance["end_time"] = status, now_ms
    instance["_node"] = len(instance.get("_nodes") or [])
    return [_instance_event(instance, status, now_ms)]


def _close(task: dict[str, Any], status: str, now_ms: str) -> None:
    task["status"], task["end_time"] = status, now_ms


def _node_key(instance: Mapping[str, Any], task: Mapping[str, Any]) -> str:
    spec = next((n for n in instance.get("_nodes") or () if n["node_id"] == task.get("node_id")), None)
    return spec["node_key"] if spec else ""


def _entry(kind: str, now_ms: str, who: Mapping[str, Any], *, ext: str = "{}", node_key: str = "",
           **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": kind, "create_time": now_ms, "user_id": who.get("user_id", ""),
                             "open_id": who.get("open_id", ""), "ext": ext, "node_key": node_key}
    entry.update({k: v for k, v in extra.items() if v})
    return entry


def _task_event(instance: Mapping[str, Any], task: Mapping[str, Any], status: str, now_ms: str) -> FlowEvent:
    return FlowEvent("task", status, instance["instance_code"], instance["approval_code"], task_id=task["id"],
                     user_id=task.get("user_id", ""), open_id=task.get("open_id", ""),
                     custom_key=task.get("custom_node_id", ""), def_key=task.get("node_id", ""),
                     operate_time=now_ms)


def _instance_event(instance: Mapping[str, Any], status: str, now_ms: str) -> FlowEvent:
    return FlowEvent("instance", status, instance["instance_code"], instance["approval_code"], operate_time=now_ms,
                     instance_uuid=instance.get("uuid", ""))
