"""One orchestrator episode: build the history envelope, run the SDK, turn its actions into new work."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from azure.durable_functions.models.actions import ActionType as A
from azure.durable_functions.models.history import HistoryEventType as T

from devhost import history as ev
from devhost import sequencer as sq
from devhost.clock import Clock, format_ts, parse_ts
from devhost.determinism import check_prefix, describe
from devhost.functions import ACTIVITY, ORCHESTRATOR, FunctionIndex, OrchestratorResult
from devhost.sequencer import Leaf, Sequencer, UnsupportedAction
from devhost.store import RUNNING_STATES, ChildStart, Episode, EpisodeCommit, Instance, Store

# The real runtime delivers at most this many new events to one episode.
MAX_EVENTS_PER_EPISODE = 32
# Azure Storage's timer limits, sent so long timers are split as they are in Azure (LongTimerTask).
MAX_SHORT_TIMER = "6.00:00:00"
LONG_TIMER_INTERVAL = "3.00:00:00"


class EpisodeRunner:
    """Runs orchestrator episodes for a store, one at a time."""

    def __init__(self, store: Store, functions: FunctionIndex, clock: Clock,
                 batch_size: int = MAX_EVENTS_PER_EPISODE) -> None:
        self.store = store
        self.functions = functions
        self.clock = clock
        self.batch_size = batch_size

    def run(self, instance_id: str) -> bool:
        """Run one episode of `instance_id` if it has inbox events; True if something was done."""
        episode = self.store.load_episode(instance_id, self.batch_size)
        if episode is None:
            return False
        if episode.instance.status not in RUNNING_STATES:
            self.store.discard_inbox(instance_id)
            return True
        if episode.terminate is None and not any(
                i.execution_id in (None, episode.instance.execution_id) for i in episode.batch):
            # Only results for an earlier execution (before continue_as_new): nothing to replay.
            self.store.discard_inbox(instance_id, [i.id for i in episode.batch])
            return True
        commit = self._terminate(episode) if episode.terminate else self._replay(episode)
        # A concurrent change (e.g. a purge) makes the commit a no-op; the inbox decides what runs next.
        self.store.commit_episode(commit)
        return True

    def _replay(self, episode: Episode) -> EpisodeCommit:
        inst = episode.instance
        current = [i for i in episode.batch if i.execution_id in (None, inst.execution_id)]
        consumed = [i.id for i in episode.batch]
        events = [i.event for i in current]
        ts = self._episode_time(inst, events)
        new_events = [ev.orchestrator_started(ts), *events]
        past = [ev.played(e) for e in episode.history]
        full = past + new_events
        result = self.functions.run_orchestrator(inst.name, self._envelope(inst, full))
        outcome = _Outcome(inst, ts, consumed, new_events)
        if result.state is None or result.error is not None:
            return outcome.failed(result.error or "orchestrator returned no state", result.details, result)
        state = result.state
        actions = _flat_actions(state)
        previous = json.loads(inst.actions) if inst.actions else []
        problem = check_prefix(previous, actions, inst.name)
        try:
            seq = Sequencer(actions, inst.execution_id).replay(full)
        except UnsupportedAction as exc:
            return outcome.failed(str(exc), None, result)
        problem = problem or _history_conflict(seq, past, inst.name) or _held_back(seq, inst.name)
        if problem:
            return outcome.failed(problem, None, result)
        scheduled = {e["EventId"] for e in past if e["EventType"] in ev.SCHEDULING_TYPES}
        new_leaves = [leaf for leaf in seq.leaves if leaf.task_id not in scheduled]
        invalid = self._invalid_target(inst, new_leaves)
        if invalid:
            return outcome.failed(invalid, None, result)
        custom = state.get("customStatus")
        continue_as_new = next((a for a in actions if a.get("actionType") == A.CONTINUE_AS_NEW), None)
        if continue_as_new is not None:
            return outcome.continued_as_new(continue_as_new.get("input"), custom)
        if state.get("isDone"):
            return outcome.completed(state.get("output"), custom)
        return outcome.running(actions, new_leaves, seq.leaves, custom)

    def _terminate(self, episode: Episode) -> EpisodeCommit:
        inst = episode.instance
        assert episode.terminate is not None
        ts = self._episode_time(inst, [])
        reason = episode.terminate.event.get("Input")
        outcome = _Outcome(inst, ts, [episode.terminate.id], [])
        return outcome.terminated(reason)

    def _episode_time(self, inst: Instance, events: list[dict[str, Any]]) -> datetime:
        # current_utc_datetime must never go backwards and must have reached every fired timer.
        candidates = [self.clock.now()]
        if inst.last_episode_ts:
            candidates.append(parse_ts(inst.last_episode_ts))
        candidates += [parse_ts(e["FireAt"]) for e in events if e["EventType"] == T.TIMER_FIRED]
        return max(candidates)

    def _envelope(self, inst: Instance, history: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "history": history,
            "input": inst.input,
            "instanceId": inst.instance_id,
            "isReplaying": False,
            "parentInstanceId": inst.parent_instance_id,
            "upperSchemaVersion": 1,
            "upperSchemaVersionNew": 2,
            "maximumShortTimerDuration": MAX_SHORT_TIMER,
            "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
        }

    def _invalid_target(self, inst: Instance, leaves: list[Leaf]) -> str | None:
        # The extension validates each call when it replays the action, failing the orchestration.
        for leaf in leaves:
            kind = ACTIVITY if leaf.kind == sq.ACTIVITY else ORCHESTRATOR if leaf.kind == sq.SUBORCH else None
            if kind is None:
                continue
            try:
                self.functions.get(leaf.name or "", kind)
            except ValueError as exc:
                return str(exc)
            if kind == ORCHESTRATOR and leaf.instance_id in (inst.instance_id, inst.parent_instance_id):
                return ("The instance ID of a sub-orchestration must be different than the instance ID of a "
                        "parent orchestration.")
            if kind == ORCHESTRATOR and (leaf.instance_id or "").startswith("@"):
                return "Orchestration instance ids must not start with @"
        return None


class _Outcome:
    """Builds the EpisodeCommit for each way an episode can end."""

    def __init__(self, inst: Instance, ts: datetime, consumed: list[int], new_events: list[dict[str, Any]]):
        self.inst = inst
        self.ts = ts
        self.consumed = consumed
        self.new_events = new_events

    def _commit(self, events: list[dict[str, Any]], updates: dict[str, Any], **extra: Any) -> EpisodeCommit:
        updates = {"last_episode_ts": format_ts(self.ts), **updates}
        return EpisodeCommit(self.inst.instance_id, self.inst.execution_id, self.inst.rev, self.consumed, events,
                             updates, self.ts, **extra)

    def _parent(self, event: dict[str, Any] | None) -> dict[str, Any] | None:
        return event if self.inst.parent_instance_id is not None else None

    def running(self, actions: list[dict[str, Any]], new_leaves: list[Leaf], all_leaves: list[Leaf],
                custom: Any) -> EpisodeCommit:
        scheduling: list[dict[str, Any]] = []
        activities, timers, children = [], [], []
        for leaf in new_leaves:
            assert leaf.task_id is not None
            if leaf.kind == sq.ACTIVITY:
                scheduling.append(ev.task_scheduled(self.ts, leaf.task_id, leaf.name or "", leaf.input))
                activities.append((leaf.task_id, leaf.name or "", leaf.input))
            elif leaf.kind == sq.TIMER:
                scheduling.append(ev.timer_created(self.ts, leaf.task_id, leaf.fire_at or ""))
                timers.append((leaf.task_id, leaf.fire_at or "", leaf.canceled))
            elif leaf.kind == sq.SUBORCH:
                instance_id = leaf.instance_id or ""
                scheduling.append(ev.sub_created(self.ts, leaf.task_id, leaf.name or "", instance_id, leaf.input))
                children.append(ChildStart(instance_id, leaf.name or "", leaf.input, leaf.task_id))
        canceled = [leaf.task_id for leaf in all_leaves if leaf.kind == sq.TIMER and leaf.canceled
                    and leaf.task_id is not None]
        updates = {"status": "Running", "custom_status": _dumps_or_none(custom), "actions": json.dumps(actions)}
        return self._commit([*self.new_events, *scheduling, ev.orchestrator_completed(self.ts)], updates,
                            activities=activities, timers=timers, children=children, cancel_timers=canceled)

    def completed(self, output: Any, custom: Any) -> EpisodeCommit:
        result = json.dumps(output)
        events = [*self.new_events, ev.execution_completed(self.ts, "Completed", result),
                  ev.orchestrator_completed(self.ts)]
        updates = {"status": "Completed", "output": result, "custom_status": _dumps_or_none(custom),
                   "actions": None}
        parent_task = self.inst.parent_task_id
        notice = None if parent_task is None else ev.sub_completed(self.ts, parent_task, result)
        return self._commit(events, updates, finished=True, parent_event=self._parent(notice))

    def failed(self, message: str, details: str | None, result: OrchestratorResult | None) -> EpisodeCommit:
        # The extension reports OrchestrationFailureException($"Orchestrator function '{name}' failed: ...").
        text = ev.truncate(f"Orchestrator function '{self.inst.name}' failed: {message}") or ""
        details = ev.truncate(details)
        custom = (result.state or {}).get("customStatus") if result is not None else None
        events = [*self.new_events, ev.execution_completed(self.ts, "Failed", json.dumps(text)),
                  ev.orchestrator_completed(self.ts)]
        updates = {"status": "Failed", "output": json.dumps(text), "error": details or text,
                   "custom_status": _dumps_or_none(custom), "actions": None}
        parent_task = self.inst.parent_task_id
        notice = None if parent_task is None else ev.sub_failed(self.ts, parent_task, text, details)
        return self._commit(events, updates, finished=True, parent_event=self._parent(notice))

    def terminated(self, reason: str | None) -> EpisodeCommit:
        events = [ev.execution_terminated(self.ts, reason)]
        updates = {"status": "Terminated", "output": json.dumps(reason), "actions": None}
        parent_task = self.inst.parent_task_id
        notice = None if parent_task is None else ev.sub_failed(self.ts, parent_task, reason or "Terminated", None)
        return self._commit(events, updates, finished=True, parent_event=self._parent(notice))

    def continued_as_new(self, input_json: str | None, custom: Any) -> EpisodeCommit:
        execution_id = uuid.uuid4().hex
        parent = None
        if self.inst.parent_instance_id is not None:
            parent = {"OrchestrationInstance": {"InstanceId": self.inst.parent_instance_id},
                      "TaskScheduleId": self.inst.parent_task_id}
        started = ev.execution_started(self.ts, self.inst.name, input_json, self.inst.instance_id,
                                       execution_id, parent)
        updates = {"status": "ContinuedAsNew", "input": input_json, "output": None, "execution_id": execution_id,
                   "custom_status": _dumps_or_none(custom), "actions": None}
        # Fresh history: the next execution replays only its own events, which keeps histories bounded.
        return self._commit([], updates, reset_history=True, finished=True, keep_raised_events=True,
                            inbox=[started])


def _flat_actions(state: dict[str, Any]) -> list[dict[str, Any]]:
    """actions[0] of a V2/V3 OrchestratorState (V1 nests one list per episode; flatten it)."""
    groups = state.get("actions") or []
    if state.get("schemaVersion", 0) >= 1:
        return list(groups[0]) if groups else []
    return [action for group in groups for action in group]


def _history_conflict(seq: Sequencer, past: list[dict[str, Any]], name: str) -> str | None:
    """DTFx's own check: every id scheduled in history must be re-scheduled as the same kind and target."""
    kinds = {T.TASK_SCHEDULED: sq.ACTIVITY, T.TIMER_CREATED: sq.TIMER,
             T.SUB_ORCHESTRATION_INSTANCE_CREATED: sq.SUBORCH}
    for event in past:
        kind = kinds.get(event["EventType"])
        if kind is None:
            continue
        leaf = seq.by_id.get(event["EventId"])
        if leaf is None or leaf.kind != kind or (kind != sq.TIMER and leaf.name != event.get("Name")):
            then = f"{kind} '{event.get('Name')}'" if kind != sq.TIMER else "timer"
            now = "nothing" if leaf is None else leaf.describe()
            return (f"Non-deterministic orchestrator '{name}': history has {then} as task {event['EventId']}, "
                    f"but this replay schedules {now} as task {event['EventId']}")
    if seq.conflicts:
        return f"Non-deterministic orchestrator '{name}': {seq.conflicts[0]}"
    return None


def _held_back(seq: Sequencer, name: str) -> str | None:
    """Stricter than the extension, which runs such an orchestrator on: it schedules what follows late, and when a
    retry takes a task id in between, its ids and the SDK's part and results reach the wrong tasks."""
    if seq.held_back is None:
        return None
    waiting, following = seq.held_back
    return (f"Orchestrator '{name}' went on past {describe(waiting)} and yielded {describe(following)}, but the "
            "Durable extension replays one yield at a time and is still waiting on that one: a task_any over tasks "
            "yielded before lists only its new tasks, and the extension waits for those alone. In Azure "
            "what follows is scheduled late, and with retries results can reach the wrong tasks. Yield each task "
            "once (devhost/README.md).")


def _dumps_or_none(value: Any) -> str | None:
    return None if value is None else json.dumps(value)
